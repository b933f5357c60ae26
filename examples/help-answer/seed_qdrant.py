"""Loads the help articles of examples/help-answer into the Qdrant collection help_articles.

Each article is embedded by its question, with the model and dimensions of the workflow's
`question_vector` node (a vector of another model or length could not be compared), through the
openai SDK: OPENAI_API_KEY, and OPENAI_BASE_URL for another server. It writes to the Qdrant
server at QDRANT_URL (QDRANT_API_KEY), else to the local-mode folder CATALYST_QDRANT_PATH, which
the service must not hold open meanwhile (local mode serves one process). Run it with the
workspace's Python, which has both SDKs once the service depends on catalyst-runtime[llm,qdrant]:

    .venv/bin/python path/to/examples/help-answer/seed_qdrant.py

It replaces the collection, nothing else.
"""

from __future__ import annotations

import os

from openai import OpenAI
from qdrant_client import QdrantClient, models

COLLECTION = "help_articles"
MODEL = "text-embedding-3-small"
DIMENSIONS = 256
ARTICLES = [
    {
        "question": "How do I return an item?",
        "title": "Returns",
        "body": (
            "Items can be returned within 30 days from your orders page;"
            " premium customers' returns are collected."
        ),
    },
    {
        "question": "When will my order arrive?",
        "title": "Delivery times",
        "body": "Orders ship within one working day and arrive two to four days later.",
    },
    {
        "question": "How do I change my plan?",
        "title": "Plans",
        "body": (
            "The plan can be changed under Account, Plan; the change applies at the next invoice."
        ),
    },
]


def main() -> None:
    questions = [article["question"] for article in ARTICLES]
    answer = OpenAI().embeddings.create(model=MODEL, input=questions, dimensions=DIMENSIONS)
    vectors = [item.embedding for item in sorted(answer.data, key=lambda item: item.index)]
    url = os.environ.get("QDRANT_URL")
    client = (
        QdrantClient(url=url, api_key=os.environ.get("QDRANT_API_KEY"))
        if url
        else QdrantClient(path=os.environ["CATALYST_QDRANT_PATH"])
    )
    try:
        if client.collection_exists(COLLECTION):
            client.delete_collection(COLLECTION)
        client.create_collection(
            COLLECTION,
            vectors_config=models.VectorParams(size=DIMENSIONS, distance=models.Distance.COSINE),
        )
        points = [
            models.PointStruct(
                id=i, vector=vector, payload={"title": a["title"], "body": a["body"]}
            )
            for i, (a, vector) in enumerate(zip(ARTICLES, vectors, strict=True))
        ]
        client.upsert(COLLECTION, points=points)
    finally:
        client.close()
    print(f"{COLLECTION}: {len(ARTICLES)} articles")


if __name__ == "__main__":
    main()
