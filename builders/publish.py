"""Upload a built Hub folder with ``huggingface_hub``: create the dataset repo, upload the
folder in one commit, optionally tag the commit. ``dry_run`` lists what would be uploaded and
touches no network."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from builders.hub_cache import upload_files
from gsi_bench.datasource import CARD_FILE, check_repo_id, read_card_metadata
from gsi_bench.errors import InvalidInput
from gsi_bench.hashing import file_sha256
from gsi_bench.hub_io import CHECKSUMS_FILE


@dataclass
class PublishPlan:
    repo_id: str
    revision: str | None
    #: (relative path, bytes)
    files: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(n for _, n in self.files)

    def lines(self) -> list[str]:
        out = [f"{n:>14,d}  {rel}" for rel, n in self.files]
        out.append(f"{self.total_bytes:>14,d}  total, {len(self.files)} files → dataset {self.repo_id}"
                   + (f" (tag {self.revision})" if self.revision else ""))
        return out


def verify_folder(root: Path) -> None:
    """Refuse to publish a folder whose card is missing/unparsable or whose shards do not match
    ``gsi_checksums.json`` (raises ``ValueError`` naming the file and the fix)."""
    if not (root / CARD_FILE).exists():
        raise InvalidInput(f"{root / CARD_FILE} is missing: build the folder with `gsi-bench build` first")
    read_card_metadata(root)
    sums = root / CHECKSUMS_FILE
    if not sums.exists():
        raise InvalidInput(f"{sums} is missing: rebuild the folder with `gsi-bench build`")
    for rel, entry in json.loads(sums.read_text()).get("files", {}).items():
        path = root / rel
        if not path.exists():
            raise InvalidInput(f"{path} is listed in {sums} but missing; rebuild the folder")
        if file_sha256(path) != entry.get("sha256"):
            raise InvalidInput(f"{path} does not match its sha256 in {sums}; the file changed after the build — rebuild")


def plan_publish(folder: str | Path, repo_id: str, revision: str | None = None) -> PublishPlan:
    """What :func:`publish` would upload (after checking the folder)."""
    root = Path(folder)
    if not root.is_dir():
        raise InvalidInput(f"{root} is not a folder: pass the output of `gsi-bench build`")
    check_repo_id(repo_id)
    verify_folder(root)
    files = [(p.relative_to(root).as_posix(), p.stat().st_size) for p in upload_files(root)]
    return PublishPlan(repo_id, revision, files)


def publish(folder: str | Path, repo_id: str, revision: str | None = None, private: bool = False,
            dry_run: bool = False, token: str | None = None) -> PublishPlan:
    """Create ``repo_id`` (a dataset repo) if needed, upload the folder in one commit, and tag
    that commit ``revision`` when given. With ``dry_run`` only the plan is returned."""
    plan = plan_publish(folder, repo_id, revision)
    if dry_run:
        return plan
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    commit = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                               allow_patterns=[rel for rel, _ in plan.files],
                               commit_message=f"GSI-Bench data{f' {revision}' if revision else ''}")
    if revision:
        api.create_tag(repo_id, tag=revision, repo_type="dataset", revision=commit.oid,
                       tag_message=f"GSI-Bench {revision}")
    return plan
