from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from lucy.capability_index.catalog import load_catalog
from lucy.errors import CatalogError


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_demo_catalog_size(catalog) -> None:
    assert len(catalog.tools) >= 400
    assert len(catalog.toolkits) >= 30
    for toolkit in (
        "github",
        "linear",
        "jira",
        "slack",
        "gmail",
        "googlecalendar",
        "notion",
        "hubspot",
        "salesforce",
        "zendesk",
        "stripe",
        "pagerduty",
        "airtable",
    ):
        assert toolkit in catalog.toolkits


def test_demo_catalog_has_near_duplicates(catalog) -> None:
    slugs = {t.slug for t in catalog.tools}
    assert {"GITHUB_CREATE_ISSUE", "LINEAR_CREATE_ISSUE", "JIRA_CREATE_ISSUE"} <= slugs
    send = [
        t
        for t in catalog.tools
        if "send" in t.tags.verbs and t.toolkit in {"slack", "gmail", "outlook", "microsoft_teams"}
    ]
    assert {t.toolkit for t in send} == {"slack", "gmail", "outlook", "microsoft_teams"}


def test_every_tool_is_well_formed(catalog) -> None:
    for tool in catalog.tools:
        Draft202012Validator.check_schema(tool.parameters)
        assert tool.slug.startswith(tool.toolkit.upper() + "_")
        assert tool.scopes, tool.slug
        assert not (tool.read_only and tool.destructive), tool.slug
        assert tool.tags.verbs, f"{tool.slug} has no verb tag"
        assert set(tool.parameters.get("required", [])) <= set(tool.parameters["properties"])


def test_point_ids_are_stable_uuid5(catalog) -> None:
    tool = catalog.by_slug()["LINEAR_CREATE_ISSUE"]
    assert tool.point_id == load_catalog().by_slug()["LINEAR_CREATE_ISSUE"].point_id
    assert tool.point_id != tool.model_copy(update={"provider": "composio"}).point_id


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


GOOD = """
toolkit: acme
name: Acme
tools:
  - slug: ACME_CREATE_WIDGET
    name: Create widget
    description: Creates a widget.
    parameters: {type: object, properties: {name: {type: string}}, required: [name]}
    scopes: [widgets:write]
"""


def test_custom_catalog_loads(tmp_path: Path) -> None:
    cat = load_catalog(write(tmp_path / "c", "acme.yaml", GOOD))
    assert [t.slug for t in cat.tools] == ["ACME_CREATE_WIDGET"]
    assert cat.toolkits["acme"].name == "Acme"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("required: [name]", "required: [nope]"), "required fields ['nope']"),
        (GOOD.replace("type: object,", "type: array,"), "type object"),
        (GOOD.replace("type: string", "type: strin"), "not a JSON schema"),
        (GOOD.replace("    scopes:", "    colour: red\n    scopes:"), "unknown keys"),
        ("toolkit: [", "not valid YAML"),
        (GOOD.replace("ACME_CREATE_WIDGET", "acme-create"), "ACME"),
    ],
)
def test_malformed_catalog_names_file_and_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CatalogError) as info:
        load_catalog(write(tmp_path / "c", "acme.yaml", text))
    assert "acme.yaml" in str(info.value)
    assert message in str(info.value) or message.lower() in str(info.value).lower()


def test_duplicate_slug_across_files(tmp_path: Path) -> None:
    folder = write(tmp_path / "c", "acme.yaml", GOOD)
    write(folder, "acme2.yaml", GOOD.replace("toolkit: acme", "toolkit: acme2"))
    with pytest.raises(CatalogError, match=r"slug also defined in acme\.yaml"):
        load_catalog(folder)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog(tmp_path / "nope")


def test_curated_overrides_name_real_tools_and_toolkits(catalog) -> None:
    from lucy.capability_index.tags import bundled_overrides

    overrides = bundled_overrides()
    assert set(overrides.tools) <= set(catalog.by_slug())
    assert set(overrides.toolkit_aliases) == set(catalog.toolkits)
