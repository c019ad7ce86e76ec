import os
import sys
from dataclasses import dataclass


@dataclass
class Item:
    sku: str
    quantity: int
    unit_price: float


def total_value(items):
    """Value of the stock on hand."""
    return sum(i.quantity * i.unit_price for i in items)


def low_stock(items, threshold=5):
    """Items at or below the threshold, lowest first."""
    return sorted((i for i in items if i.quantity <= threshold), key=lambda i: i.quantity)


def describe(item):
    label = f"item"
    return f"{label} {item.sku}: {item.quantity} @ {item.unit_price:.2f}"
