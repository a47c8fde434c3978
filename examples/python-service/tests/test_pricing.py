import pytest

from orders import pricing


def test_subtotal():
    assert pricing.subtotal([(2, 1.5), (1, 3.0)]) == 6.0


def test_with_tax():
    assert pricing.with_tax(100, "de") == 119.0


def test_unknown_country():
    with pytest.raises(ValueError):
        pricing.with_tax(1, "xx")


def test_discount():
    assert pricing.discount(80, 25) == 60.0


def test_discount_bounds():
    with pytest.raises(ValueError):
        pricing.discount(10, 120)


def test_cache_key_is_stable():
    assert pricing.cache_key("A-1") == pricing.cache_key("A-1")


def test_audit_sample_size():
    assert len(pricing.sample_for_audit(["a", "b", "c"], 2)) == 2
