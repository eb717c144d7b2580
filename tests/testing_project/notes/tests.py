"""The project's own tests, as a user writes them for Django's runner (manage.py test) or pytest."""

import io
import os

from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connections
from django.test import TestCase, TransactionTestCase
from reports.models import CREATE_TABLE, Report

from djcfg_env import ReadOnlyDatabaseError, allow_writes
from notes.models import Note


def fill_warehouse():
    """What another system does in production: the reports table and a row, on the read-only alias."""
    with allow_writes("warehouse"):
        with connections["warehouse"].cursor() as cursor:
            cursor.execute(CREATE_TABLE)
        Report.objects.create(id=1, title="q1")
        call_command("loaddata", "reports.json", database="warehouse", verbosity=0)


class NotesTests(TestCase):
    databases = "__all__"

    @classmethod
    def setUpTestData(cls):
        cls.user = User.objects.create_user("ann")
        fill_warehouse()

    def test_a_note_is_written_to_its_own_database(self):
        note = Note.objects.create(title="hello", author=self.user)
        self.assertEqual(note._state.db, "notes_db")
        with connections["notes_db"].cursor() as cursor:
            cursor.execute("SELECT title FROM notes_note")
            self.assertEqual(cursor.fetchall(), [("hello",)])
        self.assertEqual([n.title for n in self.user.notes.all()], ["hello"])

    def test_the_read_only_alias_is_read_and_refuses_writes(self):
        self.assertEqual(
            list(Report.objects.order_by("pk").values_list("title", flat=True)), ["q1", "q2 from a fixture"]
        )
        with self.assertRaises(ReadOnlyDatabaseError):
            Report.objects.create(title="q2")
        with self.assertRaises(ReadOnlyDatabaseError), connections["warehouse"].cursor() as cursor:
            cursor.execute("DELETE FROM reports_report")
        self.assertEqual(Report.objects.count(), 2)
        # Outside allow_writes the router lets loaddata write nothing there (Django skips the rows).
        out = io.StringIO()
        call_command("loaddata", "reports.json", database="warehouse", stdout=out)
        self.assertIn("Installed 0 object(s) (of 1)", out.getvalue())

    def test_the_test_database_has_the_name_from_test_name(self):
        expected = os.environ.get("EXPECT_NOTES_TEST_NAME")
        if expected:
            name = connections["notes_db"].settings_dict["NAME"]
            self.assertTrue(os.path.basename(str(name)).startswith(expected), name)


class ReplicaTests(TransactionTestCase):
    databases = {"default", "replica"}

    def test_the_mirror_reads_what_the_tests_wrote_to_its_primary(self):
        User.objects.create_user("bob")
        self.assertEqual(
            list(User.objects.using("replica").values_list("username", flat=True)), ["bob"]
        )
        with self.assertRaises(ReadOnlyDatabaseError):
            User.objects.db_manager("replica").create_user("eve")
