"""Admin lists of the improvement app: a fixed number of queries however many rows they show."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from improvement import services
from improvement.models import Assignment, VariantBucket

pytestmark = pytest.mark.django_db

LISTS = ("assignment", "variantbucket", "variant", "experiment")


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_admin_lists_do_not_query_per_row(client, make_experiment, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    experiment = make_experiment("admin-list", variants=("a", "b", "c"))
    services.variant_select(experiment=experiment)
    few = {name: _queries(client, f"/admin/improvement/{name}/") for name in LISTS}
    for _ in range(20):
        services.variant_select(experiment=experiment)
    make_experiment("admin-list-2", variants=("x", "y"))
    # Assignment and bucket rows print their variant as "experiment/variant".
    assert experiment.assignments.count() == 21
    many = {name: _queries(client, f"/admin/improvement/{name}/") for name in LISTS}
    assert many == few


@pytest.mark.parametrize("name", ["assignment", "variantbucket"])
def test_assignments_and_buckets_have_no_add_edit_or_delete_in_the_admin(
    client, make_experiment, django_user_model, name
):
    """They are recorded by selection and results; a hand-made or deleted row would make the
    buckets disagree with the assignments and the variants' statistics."""
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    experiment = make_experiment("admin-rows")
    services.variant_select(experiment=experiment)
    model = {"assignment": Assignment, "variantbucket": VariantBucket}[name]
    row = model.objects.get(experiment=experiment)
    changelist = client.get(f"/admin/improvement/{name}/").content.decode()
    assert f"/admin/improvement/{name}/add/" not in changelist
    assert client.get(f"/admin/improvement/{name}/add/").status_code == 403
    assert client.post(f"/admin/improvement/{name}/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=row.pk).exists()


def test_an_experiment_is_still_deleted_with_its_assignments_and_buckets(client, make_experiment, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    experiment = make_experiment("to-delete")
    services.variant_select(experiment=experiment)
    response = client.post(f"/admin/improvement/experiment/{experiment.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Assignment.objects.exists() and not VariantBucket.objects.exists()
