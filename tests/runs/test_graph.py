from __future__ import annotations

import pytest
from django.urls import reverse

from r1web.runs import graph, selectors
from r1web.runs.models import Stage, StageKind
from tests.runs.factories import make_pipeline

HTMX = {"HX-Request": "true"}


def node(key: str, status: str = "pending") -> graph.Node:
    return graph.Node(key, key, "GRPO", status, f"/stages/{key}/")


def placed(layout: graph.Layout) -> dict[str, graph.PlacedNode]:
    return {p.node.key: p for p in layout.nodes}


# --- the pure layout ------------------------------------------------------------------

def test_a_stage_sits_one_column_right_of_its_deepest_input():
    nodes = [node("eval-base"), node("sft"), node("rl"), node("eval-rl"), node("final")]
    edges = [
        graph.Edge("sft", "rl", "model"),
        graph.Edge("rl", "eval-rl", "model"),
        graph.Edge("sft", "final", "needs"),
        graph.Edge("eval-rl", "final", "needs"),  # the longer path wins
    ]
    columns = {key: p.column for key, p in placed(graph.layout(nodes, edges)).items()}
    assert columns == {"eval-base": 0, "sft": 0, "rl": 1, "eval-rl": 2, "final": 3}


def test_stages_of_one_column_stack_in_their_order_without_overlapping():
    nodes = [node("a"), node("b"), node("c")]
    boxes = placed(graph.layout(nodes, [graph.Edge("a", "c", "model")]))
    assert (boxes["a"].row, boxes["b"].row, boxes["c"].row) == (0, 1, 0)
    assert boxes["b"].y >= boxes["a"].y + boxes["a"].height
    assert boxes["c"].x >= boxes["a"].x + boxes["a"].width


def test_the_picture_is_big_enough_for_every_box():
    layout = graph.layout([node("a"), node("b"), node("c")],
                          [graph.Edge("a", "b", "model"), graph.Edge("b", "c", "dataset")])
    assert all(p.x + p.width <= layout.width and p.y + p.height <= layout.height
               for p in layout.nodes)


def test_an_edge_runs_from_the_right_of_its_source_to_the_left_of_its_target():
    layout = graph.layout([node("a"), node("b")], [graph.Edge("a", "b", "model")])
    boxes, edge = placed(layout), layout.edges[0]
    assert edge.path.startswith(f"M{boxes['a'].x + boxes['a'].width} ")
    assert f" {boxes['b'].x} " in edge.path
    assert boxes["a"].x + boxes["a"].width < edge.label_x < boxes["b"].x


def test_an_edge_carries_the_url_of_what_passed_along_it_and_is_solid():
    pinned = graph.Edge("a", "b", "model", url="/checkpoints/3/", artifact="grpo final")
    waiting = graph.Edge("a", "c", "dataset")
    layout = graph.layout([node("a"), node("b"), node("c")], [pinned, waiting])
    by_target = {e.edge.target: e for e in layout.edges}
    assert by_target["b"].edge.url == "/checkpoints/3/" and by_target["b"].dashes == ""
    assert by_target["b"].title == "model: grpo final"
    assert by_target["c"].edge.url == "" and by_target["c"].dashes  # not passed yet


def test_two_edges_into_one_stage_arrive_at_different_heights():
    layout = graph.layout([node("a"), node("b"), node("c")],
                          [graph.Edge("a", "c", "model"), graph.Edge("b", "c", "dataset")])
    ends = {e.path.rsplit(" ", 1)[1] for e in layout.edges}
    assert len(ends) == 2


def test_edges_to_unknown_stages_are_left_out_and_a_cycle_does_not_hang():
    layout = graph.layout([node("a"), node("b")], [
        graph.Edge("a", "ghost", "model"), graph.Edge("a", "b", "needs"),
        graph.Edge("b", "a", "needs"),
    ])
    assert {p.node.key for p in layout.nodes} == {"a", "b"}
    assert all(e.edge.target != "ghost" for e in layout.edges)


def test_a_status_gets_its_own_colour_and_a_long_name_is_shortened():
    long = graph.Node("x", "RL stage 2: rules + preference reward models", "GRPO", "failed", "/")
    box = graph.layout([long, node("ok", "succeeded")], []).nodes
    assert box[0].fill != box[1].fill
    assert box[0].short_name.endswith("…") and len(box[0].short_name) <= graph.NAME_CHARS


# --- from the database ----------------------------------------------------------------

@pytest.fixture
def pipeline(db):
    return make_pipeline()


def edges_by_pair(layout: graph.Layout) -> dict[tuple[str, str], graph.Edge]:
    return {(e.edge.source, e.edge.target): e.edge for e in layout.edges}


def test_the_graph_links_each_edge_to_the_pinned_checkpoint_or_dataset_version(pipeline):
    layout = selectors.stage_graph(list(selectors.stages_of(pipeline.run)))
    edges = edges_by_pair(layout)
    model = edges[("grpo", "rejection-sampling")]
    assert (model.label, model.url) == ("model", pipeline.trained.get_absolute_url())
    data = edges[("rejection-sampling", "sft")]
    assert (data.label, data.url) == ("dataset", pipeline.version.get_absolute_url())
    assert data.artifact == f"{pipeline.version} (train)"
    # eval-after is still pending: its model is not pinned, so there is nothing to link.
    assert edges[("sft", "eval-after")].url == ""
    columns = {p.node.key: p.column for p in layout.nodes}
    assert columns == {"eval-base": 0, "grpo": 0, "rejection-sampling": 1, "sft": 2,
                       "eval-after": 3}


def test_a_need_that_carries_nothing_is_drawn_as_needs(pipeline):
    pipeline.after.needs.add(pipeline.eval_base)
    edges = edges_by_pair(selectors.stage_graph(list(selectors.stages_of(pipeline.run))))
    assert edges[("eval-base", "eval-after")].label == "needs"
    assert edges[("sft", "eval-after")].label == "model"  # not doubled as a need


def test_the_graph_is_built_in_a_few_queries_however_many_stages(pipeline,
                                                                django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        selectors.stage_graph(list(selectors.stages_of(pipeline.run)))


def test_a_stage_waiting_on_a_failed_one_says_so(pipeline):
    Stage.objects.filter(pk=pipeline.sft.pk).update(status="failed")
    nodes = {p.node.key: p.node for p in selectors.stage_graph(
        list(selectors.stages_of(pipeline.run))).nodes}
    assert nodes["eval-after"].note == "waiting on sft"
    assert nodes["rejection-sampling"].note == ""


def test_a_pending_stage_whose_need_is_just_running_has_no_note(pipeline):
    nodes = {p.node.key: p.node for p in selectors.stage_graph(
        list(selectors.stages_of(pipeline.run))).nodes}
    assert nodes["eval-after"].note == ""


def test_a_reused_evaluation_is_marked(pipeline):
    copy = Stage.objects.create(run=pipeline.run, position=5, key="eval-again",
                                name="eval again", kind=StageKind.EVAL, status="succeeded",
                                reused_from=pipeline.eval_base)
    nodes = {p.node.key: p.node for p in selectors.stage_graph(
        list(selectors.stages_of(pipeline.run))).nodes}
    assert nodes[copy.key].note == "reused"


# --- on the run page ------------------------------------------------------------------

def test_the_run_page_draws_the_graph_with_links_to_stages_and_artifacts(viewer, pipeline):
    page = viewer.get(reverse("runs:detail", args=[pipeline.run.pk])).content.decode()
    assert "<svg" in page and "Stage graph of pipeline" in page
    assert f'<a href="{pipeline.sft.get_absolute_url()}" id="graph-node-sft"' in page
    assert f'<a href="{pipeline.version.get_absolute_url()}" class="graph-edge' in page
    assert f'<a href="{pipeline.trained.get_absolute_url()}" class="graph-edge' in page
    assert 'font-weight="600" fill="#1d4ed8">running</text>' in page  # text, not only colour


def test_the_stage_table_says_what_each_stage_produced(viewer, pipeline):
    page = viewer.get(reverse("runs:detail", args=[pipeline.run.pk])).content.decode()
    assert f"{pipeline.version}</a> (12 examples)" in page
    assert "grpo final</a>" in page


def test_the_polled_fragment_carries_the_graph_so_it_updates_live(viewer, pipeline):
    response = viewer.get(reverse("runs:detail", args=[pipeline.run.pk]), headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.strip().startswith('<section id="stages"') and "<svg" in body


def test_polling_the_graph_stops_when_every_stage_finished(viewer, pipeline):
    pipeline.run.stages.update(status="succeeded")
    response = viewer.get(reverse("runs:detail", args=[pipeline.run.pk]), headers=HTMX)
    assert response.status_code == 286
    assert "<svg" in response.content.decode()


def test_model_text_in_a_stage_name_is_escaped_in_the_graph(viewer, pipeline):
    Stage.objects.filter(pk=pipeline.sft.pk).update(name="<script>x</script>")
    page = viewer.get(reverse("runs:detail", args=[pipeline.run.pk])).content.decode()
    assert "<script>x" not in page and "&lt;script&gt;x" in page
