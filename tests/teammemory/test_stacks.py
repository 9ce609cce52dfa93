from teammemory.stacks import normalize_component, normalize_stack, stack_components, stack_key


def test_aliases_case_and_whitespace():
    assert normalize_component("  Postgres ") == "postgresql"
    assert normalize_component("PostgreSQL") == "postgresql"
    assert normalize_component("node  JS") == "node.js"
    assert normalize_component("ReactJS") == "react"
    assert normalize_component("Some  New   Thing") == "some new thing"


def test_stack_key_is_independent_of_role_order_and_spelling():
    a = normalize_stack({"database": "postgres", "language": "Python", "framework": "Django"})
    b = normalize_stack({"Language": "python", "Framework": " django", "DB": "PostgreSQL"})
    assert stack_key(a) == stack_key(b) == "python + django + postgresql"
    assert stack_components(a) == ["python", "django", "postgresql"]
