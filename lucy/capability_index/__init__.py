"""The capability index: catalog → documents → embeddings → Qdrant; retrieval and filters."""
