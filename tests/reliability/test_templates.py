"""Templates and data: a spec's `template_source` renders in jinja2's sandbox with no globals,
and the known ways out are refused as errors of the spec, naming its file and field; data text
that looks like a template is shown as it is, never rendered; data paths and run names cannot
write outside the folders chosen for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlngraph.spec.templates import TemplateError, get_template, inline_template
from tests.reliability.cli import SPECS, dlngraph

SANDBOXED = {
    "class walk": "{{ input.__class__.__mro__[1].__subclasses__() }}",
    "attr filter": "{{ (input | attr('__class__')) }}",
    "format string": "{{ '{0.__class__.__init__.__globals__}'.format(input) }}",
    "format_map": "{{ '{x.__class__}'.format_map({'x': input}) }}",
    "template reference": "{{ self._TemplateReference__context }}",
    "dunder method": "{{ input.__len__() }}",
}
"""Escapes the sandbox refuses when the template is rendered."""

NO_GLOBALS = {
    "cycler": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "joiner": "{{ joiner.__init__.__globals__ }}",
    "lipsum": "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "namespace": "{{ namespace.__init__.__globals__ }}",
    "range": "{% for i in range(10**9) %}x{% endfor %}",
}
"""Escapes through jinja's globals, which a template here does not have."""


@pytest.mark.parametrize("source", SANDBOXED.values(), ids=SANDBOXED.keys())
def test_a_sandbox_escape_is_refused_when_the_template_is_read(source: str) -> None:
    with pytest.raises(TemplateError, match=r"^template 'inline' is refused by the sandbox: "):
        inline_template(f"{{{{ prompt }}}} {source}")


def spec_with(tmp_path: Path, source: str) -> Path:
    text = (SPECS / "dln1.yaml").read_text().replace("    template: classify\n", f"    template_source: {source!r}\n")
    spec = tmp_path / "escape.yaml"
    spec.write_text(text)
    return spec


@pytest.mark.parametrize("source", [*SANDBOXED.values(), *NO_GLOBALS.values()], ids=[*SANDBOXED, *NO_GLOBALS])
def test_every_escape_is_an_error_of_the_spec_naming_file_and_field(source: str, tmp_path: Path) -> None:
    spec = spec_with(tmp_path, "{{ prompt }}\n{{ input }}\n" + source)
    for command in (("validate", str(spec)), ("train", str(spec), "--runs", str(tmp_path / "runs"), "--progress", "quiet")):
        result = dlngraph(*command)
        said = result.stdout + result.stderr
        assert result.returncode == 1, said
        assert f"{spec}:" in said and "nodes[0].template_source" in said, said
        assert "Traceback" not in said and "internal error" not in said
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("text", ["{{ 7 * 7 }}", "{% for x in y %}loop{% endfor %}", "{{ input.__class__ }}", "{# hidden #}", "{{", "%}"])
def test_data_that_looks_like_a_template_is_shown_literally(text: str) -> None:
    for template in (get_template("classify"), get_template("forward_cot"), inline_template("{{ prompt }}: {{ input }}")):
        rendered = template.render(prompt=f"Answer {text}", input=f"Q: {text}?", residual=[])
        assert f"Q: {text}?" in rendered and f"Answer {text}" in rendered


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/escaped", "runs/../../escaped", "..", ".hidden", "a\\\\b"])
def test_a_network_name_cannot_place_its_run_outside_the_runs_folder(name: str, tmp_path: Path) -> None:
    spec = tmp_path / "named.yaml"
    spec.write_text((SPECS / "dln1.yaml").read_text().replace("\nname: dln1\n", f"\nname: {name!r}\n"))
    runs = tmp_path / "deep" / "runs"
    result = dlngraph("train", str(spec), "--runs", str(runs), "--progress", "quiet")
    assert result.returncode == 1
    assert f"{spec}:6:7: name: invalid network name" in result.stderr, result.stderr
    assert list(tmp_path.rglob("*")) == [spec]  # nothing written, inside the runs folder or out of it
