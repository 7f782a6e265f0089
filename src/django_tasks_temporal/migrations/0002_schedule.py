# The admin's Schedules permissions: an unmanaged model, so no table is created.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("django_tasks_temporal", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="Schedule",
            fields=[
                ("id", models.CharField(max_length=255, primary_key=True, serialize=False)),
            ],
            options={
                "verbose_name": "schedule",
                "verbose_name_plural": "schedules",
                "db_table": "django_tasks_temporal_schedule_unmanaged",
                "managed": False,
                "default_permissions": ("view",),
                "permissions": [
                    ("trigger_schedule", "Can trigger schedules now"),
                    ("pause_schedule", "Can pause and unpause schedules"),
                    ("backfill_schedule", "Can backfill schedules"),
                ],
            },
        ),
    ]
