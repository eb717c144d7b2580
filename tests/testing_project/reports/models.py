from django.db import models

#: The table another system fills in production; the tests make it themselves.
CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS reports_report (id integer PRIMARY KEY, title varchar(100) NOT NULL)"
)


class Report(models.Model):
    title = models.CharField(max_length=100)

    class Meta:
        managed = False
        db_table = "reports_report"
