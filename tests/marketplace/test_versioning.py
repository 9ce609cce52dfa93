import pytest

from marketplace.versioning import InvalidVersion, SemVer


@pytest.mark.parametrize(
    "text", ["1.0", "1", "01.0.0", "1.0.0-", "1.0.0-01", "a.b.c", "1.0.0 beta", "", "1.-1.0", "99999999999.0.0"]
)
def test_invalid_versions_are_refused(text):
    with pytest.raises(InvalidVersion):
        SemVer.parse(text)


def test_parse_and_render():
    v = SemVer.parse("v2.10.3-rc.1+build.7")
    assert (v.major, v.minor, v.patch, v.prerelease, v.build) == (2, 10, 3, "rc.1", "build.7")
    assert str(v) == "2.10.3-rc.1+build.7"
    assert not v.is_release


def test_order_follows_semver_precedence_not_strings():
    # The example list from semver.org rule 11, plus numeric comparisons strings get wrong.
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.2.0",
        "1.10.0",
        "2.0.0",
        "10.0.0",
    ]
    shuffled = list(reversed(ordered))
    assert sorted(shuffled, key=lambda t: SemVer.parse(t).sort_key()) == ordered


def test_next_minor():
    assert str(SemVer.parse("1.4.2").next_minor()) == "1.5.0"
