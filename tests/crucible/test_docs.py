"""The README is the front door: every environment variable the code reads is documented there."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READ_PATTERN = re.compile(
    r"""(?:env_(?:str|bool|int|float|list)|os\.environ\.get|os\.environ\[|os\.getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
)
NOT_CONFIGURATION = {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def variables_read_by_the_code() -> set[str]:
    found = set()
    for folder in [
        "crucible",
        "marketplace",
        "teammemory",
        "observability",
        "improvement",
        "alerts",
        "scripts",
        "tests",
        "benchmarks",
    ]:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ""} and path.is_file() and "__pycache__" not in path.parts:
                found |= set(READ_PATTERN.findall(path.read_text(errors="ignore")))
    for script in (ROOT / "scripts").iterdir():
        found |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+):-", script.read_text()))
    return found - NOT_CONFIGURATION


def test_every_environment_variable_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    variables = variables_read_by_the_code()
    assert len(variables) > 20  # the scan itself works
    missing = sorted(name for name in variables if f"`{name}`" not in readme)
    assert missing == [], f"document these in README.md's Configuration section: {missing}"


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "scripts/run" in first_block and "scripts/test" in first_block
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


def _readme_code_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_api_examples_work_on_any_address_and_database():
    """The curl examples run as written whatever the port (``$BASE``) and whatever ids the
    database hands out (an assignment id is read from the select answer, not typed in)."""
    curls = [line for block in _readme_code_blocks() for line in block.splitlines() if "curl" in line or "http" in line]
    assert len(curls) >= 8
    commands = "\n".join(_readme_code_blocks())
    assert "export BASE=" in commands
    assert not re.search(r"curl[^\n]*https?://(?:127\.0\.0\.1|localhost)", commands), "use $BASE in curl examples"
    assert not re.search(r"\"assignment_id\":\s*\d", commands), "capture the assignment id from select"
    assert not re.search(r"\"started_at\":\s*\"\d{4}-", commands), "a fixed date leaves the retention window"


def test_readme_says_how_to_get_the_schema_as_json(client):
    readme = (ROOT / "README.md").read_text()
    assert "/api/v1/schema/?format=json" in readme and "Accept: application/json" in readme
    assert client.get("/api/v1/schema/").content.startswith(b"openapi:")  # YAML by default
    for response in (
        client.get("/api/v1/schema/", {"format": "json"}),
        client.get("/api/v1/schema/", HTTP_ACCEPT="application/json"),
    ):
        assert response.status_code == 200 and response.json()["openapi"].startswith("3.")
