from inventory.stock import Item, describe, low_stock, total_value


def test_total_value():
    items = [Item("a", 2, 1.5), Item("b", 1, 10.0)]
    assert total_value(items) == 13.0


def test_low_stock_sorted():
    items = [Item("a", 4, 1.0), Item("b", 9, 1.0), Item("c", 1, 1.0)]
    assert [i.sku for i in low_stock(items)] == ["c", "a"]


def test_describe():
    assert describe(Item("x", 3, 2.0)) == "item x: 3 @ 2.00"
