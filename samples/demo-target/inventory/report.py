import json
from collections import Counter

from inventory.stock import total_value


def summary(items):
    """A one-line summary of the stock."""
    skus = Counter(i.sku for i in items)
    return f"{len(skus)} SKUs, value {total_value(items):.2f}"


def reorder_quantity(item, target=20):
    """How many units to order to get back to the target level."""
    # Bug: ordering must never be negative when stock is above target.
    return target - item.quantity
