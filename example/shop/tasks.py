"""The shop's background tasks: plain `@task` functions that a Temporal worker runs.

A worker imports each task by its dotted path (`shop.tasks.send_receipt`), so tasks are
module-level functions; their arguments and return values are JSON.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from django.core.mail import send_mail
from django.tasks import TaskContext, task
from django.utils import timezone

# Stands in for the warehouse's stock levels.
STOCK = {"MUG-01": 12, "TEE-M": 0, "CAP-02": 5}


class PaymentDeclined(Exception):
    """The card issuer refused the charge."""


@task
def send_receipt(order_id: int, email: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Email a receipt for an order and return what was sent."""
    total_cents = sum(item["price_cents"] * item["quantity"] for item in items)
    lines = [
        f"{item['quantity']} x {item['name']}: {item['price_cents'] * item['quantity'] / 100:.2f}"
        for item in items
    ]
    send_mail(
        subject=f"Your receipt for order #{order_id}",
        message="\n".join([*lines, f"Total: {total_cents / 100:.2f}"]),
        from_email="shop@example.com",
        recipient_list=[email],
    )
    return {"order_id": order_id, "email": email, "total_cents": total_cents}


@task
async def check_stock(skus: list[str]) -> dict[str, int]:
    """Ask the warehouse how many of each item are left (an async task)."""
    await asyncio.sleep(0.5)  # stands in for an async HTTP call to the warehouse API
    return {sku: STOCK.get(sku, 0) for sku in skus}


@task
def charge_card(order_id: int, amount_cents: int, card_last4: str) -> dict[str, Any]:
    """Charge the customer's card; the demo's test card is always declined."""
    if card_last4 == "0002":
        raise PaymentDeclined(
            f"Card ending in {card_last4} was declined for order #{order_id} "
            f"({amount_cents / 100:.2f})."
        )
    return {"order_id": order_id, "charged_cents": amount_cents}


# django-stubs types @task without the backend's extra keyword arguments, hence the ignore.
@task(takes_context=True, max_attempts=3)  # type: ignore[call-overload, untyped-decorator]
def sync_inventory(context: TaskContext[Any, Any], warehouse: str) -> dict[str, Any]:
    """Push stock levels to a flaky warehouse API: up to 3 attempts, context tells which."""
    if context.attempt < 3:
        # The demo's warehouse API times out twice, then answers.
        raise ConnectionError(f"The {warehouse} warehouse API timed out.")
    return {"warehouse": warehouse, "attempt": context.attempt, "task_id": context.task_result.id}


@task
def send_reminder(email: str, message: str) -> str:
    """Remind a customer about their cart (enqueued with a delay)."""
    send_mail(
        subject="You left something in your cart",
        message=message,
        from_email="shop@example.com",
        recipient_list=[email],
    )
    return f"reminded {email} at {timezone.now():%H:%M:%S}"


@task
def build_report(name: str) -> str:
    """Build a sales report (enqueued with different priorities)."""
    time.sleep(0.3)  # stands in for a few queries
    return f"{name} report built"


@task
def archive_order(order_id: int) -> None:
    """Move an old order to cold storage (the demo cancels it before it runs)."""


@task
def import_report(event: dict[str, Any]) -> dict[str, Any]:
    """Import a sales report that landed in Cloud Storage (an Eventarc CloudEvent)."""
    data = event["data"]
    return {"imported": f"gs://{data['bucket']}/{data['name']}", "event_id": event["id"]}
