"""BM25 retrieval over a document collection, with the maintained `bm25s` library.

Each document is indexed as its title and content together. Text is lowercased and split into
words of two or more letters or digits (bm25s's default pattern, Unicode-aware), English stop
words are removed, and there is no stemming. Scores are bm25s's Lucene variant (k1 = 1.5,
b = 0.75).

Results are deterministic: documents that share no term with the query (score 0) are never
returned, and equal scores are ordered by position in the corpus, so a query always gets the
same documents in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np

from harness_search.data_files import Document

STOPWORDS = "en"


def tokenize(text: str) -> list[str]:
    return bm25s.tokenize(text, stopwords=STOPWORDS, return_ids=False, show_progress=False)[0]


class Bm25Index:
    """An immutable BM25 index; `search` only reads it, so threads may share one."""

    def __init__(self, documents: Sequence[Document]) -> None:
        self.documents = list(documents)
        self._bm25 = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
        corpus = bm25s.tokenize(
            [f"{d.title}\n{d.content}" for d in self.documents],
            stopwords=STOPWORDS,
            return_ids=False,
            show_progress=False,
        )
        self._bm25.index(corpus, show_progress=False)

    def search(self, query: str, k: int) -> list[Document]:
        """The `k` best documents for `query`, best first; fewer when fewer share a term with it."""
        known = [t for t in tokenize(query) if t in self._bm25.vocab_dict]
        if not known:
            return []
        scores = self._bm25.get_scores(known)
        matching = np.flatnonzero(scores > 0)
        # lexsort sorts by the last key first: score descending, then corpus position
        order = matching[np.lexsort((matching, -scores[matching]))]
        return [self.documents[i] for i in order[:k]]
