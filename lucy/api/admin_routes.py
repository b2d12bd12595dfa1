"""Read-only routes about the index itself: what ``lucy index status`` shows, for the CLI
beside a server that holds the embedded index."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from lucy.capability_index.service import CapabilityIndex

router = APIRouter()


class IndexStatus(BaseModel):
    """``CapabilityIndex.status()``, key for key (a key it gains passes through)."""

    model_config = ConfigDict(extra="allow")

    live_version: str | None = Field(description="The live collection; null before a build.")
    backend: str = Field(description="qdrant-edge (embedded) or qdrant-server.")
    collections: list[str] = Field(description="Every stored version.")
    tools: int
    toolkits: int
    tools_by_provider: dict[str, int]
    catalog_tools: int = Field(description="Tools of the local catalog.")
    catalog_toolkits: int
    embedder: str = Field(description="The id of the model this process embeds queries with.")
    embedding_backend: str | None = Field(description="This process's runtime of the model.")
    index_embedders: list[str] = Field(description="The model ids the live version recorded.")
    index_runtimes: list[str] = Field(description="The runtimes that embedded the live version.")


@router.get("/v1/index", response_model=IndexStatus, tags=["index"])
def index_status(request: Request) -> IndexStatus:
    """The live version, the stored versions, counts (tools by provider), backend, embedder."""
    index: CapabilityIndex = request.app.state.index
    return IndexStatus.model_validate(index.status())
