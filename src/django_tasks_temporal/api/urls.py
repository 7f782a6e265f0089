"""The trigger endpoints: run/, run-one/, execute/<id>/, status/<id>/, purge/, schedules/,
enqueue/<name>/."""

from __future__ import annotations

from django.urls import path

from django_tasks_temporal.api import enqueue, schedule_views, views

app_name = "django_tasks_temporal"

urlpatterns = [
    path("run/", views.RunView.as_view(), name="run"),
    path("run-one/", views.RunOneView.as_view(), name="run-one"),
    path("execute/<str:task_id>/", views.ExecuteView.as_view(), name="execute"),
    path("status/<str:task_id>/", views.StatusView.as_view(), name="status"),
    path("purge/", views.PurgeView.as_view(), name="purge"),
    path("schedules/", schedule_views.SchedulesView.as_view(), name="schedules"),
    path("schedules/<str:name>/trigger/", schedule_views.TriggerScheduleView.as_view(),
         name="schedule-trigger"),
    path("schedules/<str:name>/pause/", schedule_views.PauseScheduleView.as_view(),
         name="schedule-pause"),
    path("schedules/<str:name>/unpause/", schedule_views.UnpauseScheduleView.as_view(),
         name="schedule-unpause"),
    *enqueue.declared_patterns(),
    path("enqueue/<str:name>/", enqueue.EnqueueView.as_view(), name="enqueue"),
]
