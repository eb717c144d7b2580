from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("flaky", "0002_release_step")]
    operations = [
        migrations.AddField(
            model_name="marker",
            name="note",
            field=models.TextField(blank=True, default=""),
        ),
    ]
