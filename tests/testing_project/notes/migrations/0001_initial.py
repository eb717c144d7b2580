import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def fail_if_asked(apps, schema_editor):
    if settings.FAIL_NOTES_MIGRATION:
        raise RuntimeError("this migration fails on purpose (FAIL_NOTES_MIGRATION=1)")


class Migration(migrations.Migration):
    initial = True

    dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [
        migrations.CreateModel(
            name="Note",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(max_length=200)),
                ("author", models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name="notes", to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.RunPython(fail_if_asked, migrations.RunPython.noop),
    ]
