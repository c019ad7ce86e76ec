from inventory.report import reorder_quantity, summary
from inventory.stock import Item


def test_summary():
    assert summary([Item("a", 1, 2.0), Item("a", 1, 2.0)]) == "1 SKUs, value 4.00"


def test_reorder_never_negative():
    assert reorder_quantity(Item("a", 25, 1.0)) == 0
