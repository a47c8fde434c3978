import pytest

from orders.store import OrderStore


def test_add_and_get():
    store = OrderStore()
    store.add("A-1", [(1, 2.0)])
    assert store.get("A-1") == [(1, 2.0)]
    assert store.count() == 1


def test_duplicate_rejected():
    store = OrderStore()
    store.add("A-1", [])
    with pytest.raises(KeyError):
        store.add("A-1", [])


def test_export(tmp_path):
    store = OrderStore()
    store.add("B-2", [(1, 1.0), (2, 2.0)])
    target = tmp_path / "orders.tsv"
    store.export(target)
    assert target.read_text(encoding="utf-8") == "B-2\t2\n"
