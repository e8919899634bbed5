"""The classical baselines: features computed in torch match scikit-learn's, the closed-form
fit chooses C on dev and separates the classes, and the fitted model round-trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.feature_extraction.text import TfidfVectorizer

from depscreen.features.dataset import Sample
from depscreen.models import create_model
from depscreen.models.classical import masked_functionals

WORDS = ["sad", "tired", "alone", "happy", "fine", "great", "the", "a", "day", "was"]


class FakeDataset:
    """What `fit_closed_form` reads of an UtteranceDataset: items, labels, samples."""

    def __init__(self, items: list[dict], labels: list[int], sessions: list[str]):
        self.items, self.labels = items, np.array(labels)
        self.samples = [Sample(s, y, 0, 0, 0.0, 1.0, True, (), None)
                        for s, y in zip(sessions, labels, strict=True)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


def _item(mel: torch.Tensor | None = None, tokens: list[int] | None = None,
          emb: torch.Tensor | None = None, label: int = 0) -> dict:
    item = {"session_id": "x", "label": label,
            "mel": mel if mel is not None else torch.zeros(1, 4),
            "tokens": torch.tensor(tokens or [0]), "has_text": True,
            "has_speech": mel is not None, "start": 0.0, "end": 1.0, "utt_index": 0,
            "window_index": 0}
    if emb is not None:
        item["sentence_emb"] = emb
    return item


def _speech_data(n: int, seed: int) -> FakeDataset:
    g = torch.Generator().manual_seed(seed)
    labels = [i % 2 for i in range(n)]
    items = [_item(mel=torch.randn(int(torch.randint(5, 40, (1,), generator=g)), 4,
                                   generator=g) + 0.8 * y, label=y) for y in labels]
    return FakeDataset(items, labels, [f"s{seed}-{i}" for i in range(n)])


def test_functionals_ignore_padding() -> None:
    x = torch.randn(2, 10, 3)
    lengths = torch.tensor([10, 4])
    padded = x.clone()
    padded[1, 4:] = 99.0
    torch.testing.assert_close(masked_functionals(padded, lengths), masked_functionals(x, lengths))
    f = masked_functionals(x, lengths)
    torch.testing.assert_close(f[1, :3], x[1, :4].mean(0))
    torch.testing.assert_close(f[1, 3:6], x[1, :4].std(0, unbiased=False))


def test_egemaps_lr_fits_and_chooses_c_on_dev() -> None:
    model = create_model("egemaps-lr", n_mels=4)
    info = model.fit_closed_form(_speech_data(60, 0), _speech_data(30, 1))
    assert info["C"] in model.config.c_grid and model.config.C == info["C"]
    assert set(info["dev_participant_auc_by_C"]) == {repr(c) for c in model.config.c_grid}
    test = _speech_data(40, 2)
    from depscreen.features.dataset import collate

    p = model.predict_proba(collate([test[i] for i in range(len(test))])).numpy()
    assert p[test.labels == 1].mean() > p[test.labels == 0].mean() + 0.3
    again = create_model("egemaps-lr", **model.config_dict())
    again.load_state_dict(model.state_dict())
    batch = collate([test[i] for i in range(5)])
    torch.testing.assert_close(again.predict_proba(batch), model.predict_proba(batch))


def test_tfidf_matches_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    docs = [[int(w) for w in rng.integers(2, len(WORDS) + 2, size=rng.integers(1, 9))]
            for _ in range(40)]
    labels = [int(any(t < 5 for t in d)) for d in docs]
    ds = FakeDataset([_item(tokens=d, label=y) for d, y in zip(docs, labels, strict=True)],
                     labels, [f"d{i}" for i in range(len(docs))])
    model = create_model("tfidf-lr", vocab_size=len(WORDS) + 2)
    model.fit_closed_form(ds, ds)
    from depscreen.features.dataset import collate

    ours = model.featurize(collate([ds[i] for i in range(len(ds))])).numpy()[:, 2:]
    vec = TfidfVectorizer(sublinear_tf=True, analyzer=str.split,
                          vocabulary={str(i): i - 2 for i in range(2, len(WORDS) + 2)})
    ref = vec.fit_transform([" ".join(map(str, d)) for d in docs]).toarray()
    np.testing.assert_allclose(ours, ref, atol=1e-5)


@pytest.mark.parametrize("text_input", ["tokens"])
def test_embedding_lr_needs_embeddings(text_input: str) -> None:
    from depscreen.errors import ConfigError

    with pytest.raises(ConfigError, match="sentence embeddings"):
        create_model("embedding-lr", text_input=text_input)
    with pytest.raises(ConfigError, match="word ids"):
        create_model("tfidf-lr", text_input="embedding")
