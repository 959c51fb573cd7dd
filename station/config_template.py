"""A station's config file written from the commented sample (``station/sample_config.toml``).

Used by ``station init`` and by the demo, which writes one config per simulated station: a
module of its own so that neither has to import the other's command line.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def write_config(
    path: Path,
    *,
    station_id: str,
    machine_name: str,
    kind: str,
    backend: str = "mock",
    reader_type: str = "mfrc522-emulated",
    simulated: bool = False,
    port: int = 8080,
    data_dir: str = "data",
) -> None:
    template = resources.files("station").joinpath("sample_config.toml").read_text("utf-8")
    text = template.format(
        station_id=station_id,
        machine_id=station_id,
        machine_name=machine_name,
        kind=kind,
        backend=backend,
        reader_type=reader_type,
        simulated="true" if simulated else "false",
        port=port,
        data_dir=data_dir,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
