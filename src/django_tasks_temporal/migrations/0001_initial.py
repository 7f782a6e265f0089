# The admin's permissions: an unmanaged model, so no table is created.

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    operations = [
        migrations.CreateModel(
            name="Task",
            fields=[
                ("id", models.CharField(max_length=255, primary_key=True, serialize=False)),
            ],
            options={
                "verbose_name": "task",
                "verbose_name_plural": "tasks",
                "db_table": "django_tasks_temporal_task_unmanaged",
                "managed": False,
                "default_permissions": ("view",),
                "permissions": [
                    ("run_task", "Can run tasks now and retry failed tasks"),
                    ("cancel_task", "Can cancel tasks"),
                    ("purge_task", "Can purge finished tasks"),
                ],
            },
        ),
    ]
