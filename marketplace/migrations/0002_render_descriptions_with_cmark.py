"""Re-render every stored description with the bounded renderer (cmark-gfm + nh3) that replaced
Python-Markdown: the pages and the API show ``description_html`` as stored, so old rows must
be rendered by the same rules. A text past the new bounds is kept as escaped text."""

from django.db import migrations


def rerender(apps, schema_editor):
    from marketplace.markdown import markdown_render_or_text

    Agent = apps.get_model("marketplace", "Agent")
    batch = []
    for agent in Agent.objects.only("pk", "description").iterator(chunk_size=500):
        agent.description_html = markdown_render_or_text(agent.description)
        batch.append(agent)
        if len(batch) == 500:
            Agent.objects.bulk_update(batch, ["description_html"])
            batch = []
    if batch:
        Agent.objects.bulk_update(batch, ["description_html"])


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0001_initial")]

    operations = [migrations.RunPython(rerender, migrations.RunPython.noop, elidable=True)]
