"""Prometheus text pages read as Prometheus reads them (prometheus_client's parser).

A sample whose labels have not been observed yet (a labelled counter never incremented for them)
reads 0; a metric whose family is not on the page at all (renamed, removed, never registered) fails
the test instead, so that an `== 0` check cannot pass on a metric that is not there.
"""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

# The samples of one family: the family's name, or it with one of these suffixes.
_SAMPLE_SUFFIXES = ("", "_total", "_created", "_count", "_sum", "_bucket", "_gcount", "_gsum", "_info")

SampleKey = tuple[str, frozenset[tuple[str, str]]]


class Samples(dict[SampleKey, float]):
    """Every sample of a page, by (name, labels); `families` holds every family the page declares."""

    def __init__(self, text: str) -> None:
        families = list(text_string_to_metric_families(text))
        super().__init__({(sample.name, frozenset(sample.labels.items())): sample.value
                          for family in families for sample in family.samples})
        self.families = frozenset(family.name for family in families)

    def has_family_of(self, name: str) -> bool:
        return any(name == f"{family}{suffix}" for family in self.families for suffix in _SAMPLE_SUFFIXES)

    def value(self, name: str, **labels: str) -> float:
        """The sample `name{labels}`; 0 when its family is there but these labels were never observed."""
        assert self.has_family_of(name), f"no metric family for {name!r} on the page: {sorted(self.families)}"
        return self.get((name, frozenset(labels.items())), 0.0)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.value(name, **labels)


def scrape_url(url: str, timeout: float = 5.0) -> Samples:
    """The samples of a metrics page at `url` (a full http:// URL)."""
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        assert answer.status == 200, answer.status
        return Samples(answer.read().decode())
