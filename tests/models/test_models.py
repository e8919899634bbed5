"""Tests of the model registry and every registered model (CPU, tiny batches, a few seconds)."""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from depscreen.errors import ConfigError, CorpusError
from depscreen.models import create_model, list_models, model_class
from depscreen.models.decision_fusion import DecisionFusion
from depscreen.models.feature_fusion import BiLSTMCNNFusion
from depscreen.models.layers import (
    fill_frames,
    masked_max_pool,
    masked_pool2d,
    run_lstm,
    stack_frames,
)
from depscreen.models.speech import time_reduction

VOCAB = 50  # ids used below; every default vocab_size is larger
N_MELS = 64
TEXT_LENGTHS = [1, 2, 7, 12, 5, 3]
MEL_LENGTHS = [1, 3, 29, 40, 2, 17]  # 1-3 frames: shorter than the CNN's receptive field


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors gain nothing from threads, and on a busy 2-core machine intra-op
    threads oversubscribe and run ~10x slower; restored afterwards for other test files."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def make_batch(
    idx: list[int] | None = None, extra_text: int = 0, extra_frames: int = 0
) -> dict[str, torch.Tensor]:
    """A fixed batch; `extra_*` appends that much padding, filled with junk to prove masking."""
    g = torch.Generator().manual_seed(0)
    B = len(TEXT_LENGTHS)
    full_tokens = torch.randint(1, VOCAB, (B, max(TEXT_LENGTHS)), generator=g)
    full_mel = torch.randn(B, max(MEL_LENGTHS), N_MELS, generator=g)
    sentence_emb = torch.randn(B, 384, generator=g)
    idx = list(range(B)) if idx is None else idx
    t_len = torch.tensor([TEXT_LENGTHS[i] for i in idx])
    m_len = torch.tensor([MEL_LENGTHS[i] for i in idx])
    L = int(t_len.max()) + extra_text
    T = int(m_len.max()) + extra_frames
    junk = torch.Generator().manual_seed(1)
    tokens = torch.zeros(len(idx), L, dtype=torch.long)
    mel = torch.zeros(len(idx), T, N_MELS)
    for row, i in enumerate(idx):
        tokens[row, : t_len[row]] = full_tokens[i, : t_len[row]]
        mel[row, : m_len[row]] = full_mel[i, : m_len[row]]
        if extra_text:
            tokens[row, t_len[row] :] = torch.randint(
                0, VOCAB, (L - int(t_len[row]),), generator=junk
            )
        if extra_frames:
            mel[row, m_len[row] :] = 5 * torch.randn(T - int(m_len[row]), N_MELS, generator=junk)
    return {
        "tokens": tokens,  # (B, L)
        "token_lengths": t_len,  # (B,)
        "sentence_emb": sentence_emb[idx],  # (B, 384)
        "mel": mel,  # (B, T, n_mels)
        "mel_lengths": m_len,  # (B,)
        "label": torch.tensor([0, 1, 0, 1, 1, 0])[idx],
        "session_id": [str(300 + i) for i in idx],  # one sample per participant
    }


def loss_of(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(model(batch), batch["label"])


@pytest.mark.parametrize("name", list_models())
def test_every_model(name: str) -> None:
    """Shapes, padding invariance, tiny lengths, and a loss that falls when trained."""
    torch.manual_seed(0)
    model = create_model(name)
    assert model.modalities <= {"text", "speech"} and model.modalities
    batch = make_batch()

    model.eval()
    with torch.no_grad():
        logits = model(batch)
        features = model.forward_features(batch)
        padded = model(make_batch(extra_text=5, extra_frames=13))
        alone = torch.cat([model(make_batch(idx=[i])) for i in range(len(TEXT_LENGTHS))])
    assert logits.shape == (len(TEXT_LENGTHS), 2)
    assert torch.isfinite(logits).all()
    assert features.shape == (len(TEXT_LENGTHS), model.feature_dim)
    torch.testing.assert_close(model.forward_head(features), logits)
    torch.testing.assert_close(padded, logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(alone, logits, atol=1e-5, rtol=1e-5)
    probs = model.predict_proba(batch)
    assert probs.shape == (len(TEXT_LENGTHS),) and ((probs >= 0) & (probs <= 1)).all()

    before = loss_of(model, batch).item()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(20):
        opt.zero_grad()
        loss_of(model, batch).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        after = loss_of(model, batch).item()
    if model_class(name).fitting == "closed-form":
        # Fitted by logistic regression, not by gradients (tests/models/test_classical.py);
        # its linear head still learns, more slowly on unit-length tf-idf rows.
        assert after < 0.8 * before, (before, after)
    else:
        assert after < 0.5 * before, (before, after)


@pytest.mark.parametrize("name", list_models())
def test_config_and_safetensors_round_trip(name: str, tmp_path) -> None:
    torch.manual_seed(0)
    model = create_model(name).eval()
    cfg = json.loads(json.dumps(model.config_dict()))  # must be JSON-serialisable
    path = tmp_path / "weights.safetensors"
    save_file(model.state_dict(), str(path))  # raises on shared tensors

    torch.manual_seed(1)
    fresh = create_model(name, **cfg).eval()
    assert fresh.config_dict() == model.config_dict()
    fresh.load_state_dict(load_file(str(path)), strict=True)
    batch = make_batch()
    with torch.no_grad():
        torch.testing.assert_close(fresh(batch), model(batch))


@pytest.mark.parametrize("name", ["bilstm-text", "lstm-cnn-text", "bilstm-cnn-fusion"])
def test_sentence_embedding_input(name: str) -> None:
    torch.manual_seed(0)
    text_cfg = {"text_input": "embedding"}
    model = create_model(name, **({"text": text_cfg} if "fusion" in name else text_cfg))
    assert "sentence_emb" in model.batch_keys and "tokens" not in model.batch_keys
    batch = make_batch()
    del batch["tokens"], batch["token_lengths"]
    logits = model(batch)
    assert logits.shape == (len(TEXT_LENGTHS), 2) and torch.isfinite(logits).all()
    loss_of(model, batch).backward()


def test_unknown_model_lists_known_names() -> None:
    with pytest.raises(ConfigError) as err:
        create_model("bilstm-cnn-fusoin")
    for name in list_models():
        assert name in str(err.value)


BUILTIN_MODELS = [
    "bilstm-cnn-fusion", "bilstm-text", "cnn-speech", "decision-fusion", "egemaps-lr",
    "embedding-lr", "lstm-cnn-speech", "lstm-cnn-text", "lstm-speech", "stacked-fusion",
    "tfidf-lr",
]


def test_registry_alone_lists_every_builtin_model() -> None:
    """Importing the registry module imports the models package first, which registers them."""
    code = "from depscreen.models.registry import list_models; print(list_models())"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert ast.literal_eval(out.strip()) == BUILTIN_MODELS
    # In this process other tests may have registered their own (tests/test_extending.py).
    assert set(BUILTIN_MODELS) <= set(list_models())


def test_model_modules_do_not_import_the_models_package() -> None:
    """Each module imports what it needs from its sibling modules, never `depscreen.models`
    itself (whose __init__ imports them all)."""
    package_dir = Path(sys.modules["depscreen.models"].__file__).parent
    for path in sorted(package_dir.glob("*.py")):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "depscreen.models", path.name
            elif isinstance(node, ast.Import):
                assert all(a.name != "depscreen.models" for a in node.names), path.name


@pytest.mark.parametrize(
    ("name", "config", "mentions"),
    [
        ("lstm-cnn-text", {"hiden_size": 32}, "hiden_size"),
        ("lstm-cnn-text", {"hidden_size": 0}, "hidden_size"),
        ("lstm-cnn-text", {"hidden_size": "64"}, "hidden_size"),
        ("lstm-cnn-text", {"hidden_size": True}, "hidden_size"),
        ("lstm-cnn-text", {"dropout": 1.0}, "dropout"),
        ("lstm-cnn-text", {"text_input": "chars"}, "text_input"),
        ("lstm-cnn-text", {"kernel_sizes": []}, "kernel_sizes"),
        ("bilstm-text", {"pooling": "attention"}, "pooling"),
        ("lstm-cnn-speech", {"kernel_size": 4}, "kernel_size"),
        ("lstm-cnn-speech", {"n_mels": 4}, "n_mels"),
        ("cnn-speech", {"channels": [16, -1]}, "channels"),
        ("cnn-speech", {"stride": [2, 1]}, "stride"),
        ("lstm-cnn-speech", {"pool_time": [2, 0, 1]}, "pool_time"),
        ("lstm-cnn-speech", {"pool_freq": [2.0, 2, 1]}, "pool_freq"),
        ("lstm-speech", {"frame_stack": 0}, "frame_stack"),
        ("bilstm-cnn-fusion", {"text": {"vocab": 10}}, "vocab"),
        ("bilstm-cnn-fusion", {"text_model": "lstm-speech"}, "text_model"),
        ("bilstm-cnn-fusion", {"speech_model": "no-such-model"}, "no-such-model"),
        ("bilstm-cnn-fusion", {"modality_dropout": 2.0}, "modality_dropout"),
        ("decision-fusion", {"weight_step": 0.3}, "weight_step"),
        ("decision-fusion", {"criterion": "auc"}, "criterion"),
    ],
)
def test_bad_config_raises(name: str, config: dict, mentions: str) -> None:
    with pytest.raises(ConfigError, match=mentions):
        create_model(name, **config)


def test_bad_batches_raise_config_errors() -> None:
    batch = make_batch()
    with pytest.raises(ConfigError, match="vocab_size"):
        create_model("lstm-cnn-text", vocab_size=10)(batch)
    with pytest.raises(ConfigError, match="n_mels"):
        create_model("cnn-speech", n_mels=80)(batch)
    with pytest.raises(ConfigError, match="sentence_emb"):
        create_model("bilstm-text", text_input="embedding")({"tokens": batch["tokens"]})


def test_fusion_reuses_single_modal_encoders() -> None:
    fusion = create_model("bilstm-cnn-fusion", text={"hidden_size": 16})
    assert isinstance(fusion, BiLSTMCNNFusion)
    assert type(fusion.text_encoder) is model_class("lstm-cnn-text")
    assert type(fusion.speech_encoder) is model_class("lstm-cnn-speech")
    assert fusion.config_dict()["text"]["hidden_size"] == 16
    late = create_model("decision-fusion", text_model="bilstm-text", speech_model="cnn-speech")
    assert type(late.text_model) is model_class("bilstm-text")
    assert type(late.speech_model) is model_class("cnn-speech")

    # Encoders can start from trained single-modal models.
    torch.manual_seed(3)
    text = create_model("lstm-cnn-text", hidden_size=16)
    fusion.init_encoders_from(text_model=text)
    torch.testing.assert_close(fusion.text_encoder.lstm.weight_ih_l0, text.lstm.weight_ih_l0)
    with pytest.raises(ConfigError):
        fusion.init_encoders_from(speech_model=create_model("lstm-cnn-speech", hidden_size=8))


def test_feature_fusion_masks_absent_modality() -> None:
    torch.manual_seed(0)
    fusion = create_model("bilstm-cnn-fusion", modality_dropout=1.0)
    batch = make_batch()
    F = fusion.config.fusion_dim
    fusion.train()  # modality dropout: every sample loses exactly one branch
    feats = fusion.forward_features(batch)
    zero_t = (feats[:, :F] == 0).all(dim=1)
    zero_s = (feats[:, F:] == 0).all(dim=1)
    assert (zero_t ^ zero_s).all()
    fusion.eval()  # no dropout in eval; has_speech=False zeroes that branch only
    batch["has_speech"] = torch.tensor([True, False, True, True, True, True])
    feats = fusion.forward_features(batch)
    assert (feats[1, F:] == 0).all() and not (feats[0, F:] == 0).all()


def test_decision_fusion_calibration() -> None:
    torch.manual_seed(0)
    model = create_model("decision-fusion", weight_level="utterance")
    assert isinstance(model, DecisionFusion)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    text_z = 3.0 * (2 * y - 1) + rng.normal(0, 2.0, 200)  # informative, over-confident scale
    speech_z = rng.normal(0, 1.0, 200)  # uninformative
    speech_z[:10] = np.nan  # some dev sessions have no speech
    result = model.fit_calibration(torch.tensor(text_z), speech_z, torch.tensor(y))
    assert result.n_text == 200 and result.n_speech == 190 and result.n_both == 190
    assert result.text_a > 0 and abs(result.speech_a) < 0.5
    assert result.weight >= 0.8  # text carries the signal
    assert round(result.weight / 0.05) * 0.05 == pytest.approx(result.weight)
    assert bool(model.calibrated)
    assert model.fusion_weight.item() == pytest.approx(result.weight)
    assert model.platt_text.tolist() == pytest.approx([result.text_a, result.text_b], rel=1e-5)

    # (N, 2) logits give the same fit as log-odds.
    logits = np.stack([np.zeros(200), text_z], axis=1)
    again = model.fit_calibration(logits, speech_z, y)
    assert again.text_a == pytest.approx(result.text_a)

    acc = create_model("decision-fusion", criterion="balanced_accuracy", weight_level="utterance")
    assert acc.fit_calibration(text_z, speech_z, y).criterion == "balanced_accuracy"
    with pytest.raises(CorpusError):
        model.fit_calibration(text_z, speech_z, np.ones(200))

    # The default judges w per participant, which needs the samples' participants.
    per_person = create_model("decision-fusion")
    with pytest.raises(ValueError, match="groups"):
        per_person.fit_calibration(text_z, speech_z, y)
    groups = np.arange(200) // 5
    y = y[groups * 5]  # one label per participant
    text_z = 1.0 * (2 * y - 1) + rng.normal(0, 3.0, 200)  # participants not separable
    chosen = per_person.fit_calibration(text_z, speech_z, y, groups)
    assert chosen.weight > 0.0 and np.isfinite(chosen.score)


def test_participant_weight_favours_evidence_that_accumulates() -> None:
    """Per sample, speech is the surer modality but its error is the same for every sample
    of a person; text is weak per sample but independent across a person's samples. The
    utterance-level w favours speech; the participant-level w gives text more weight, and
    its participants' mean probability separates them better (the reason for the default)."""
    rng = np.random.default_rng(1)
    n_people, per = 80, 25
    groups = np.repeat(np.arange(n_people), per)
    y_person = rng.permutation(np.arange(n_people) % 2)
    y = y_person[groups]
    sign = 2 * y - 1
    speech_person = 1.0 * sign[::per] + rng.normal(0, 1.0, n_people)  # person-level noise
    speech_z = 2.0 * speech_person[groups] + rng.normal(0, 0.2, len(y))
    text_z = 0.5 * sign + rng.normal(0, 1.5, len(y))  # weak, independent per sample

    from sklearn.metrics import roc_auc_score

    results = {}
    for level in ("utterance", "participant"):
        model = create_model("decision-fusion", weight_level=level)
        calib = model.fit_calibration(text_z, speech_z, y, groups)
        p_t = 1 / (1 + np.exp(-(calib.text_a * text_z + calib.text_b)))
        p_s = 1 / (1 + np.exp(-(calib.speech_a * speech_z + calib.speech_b)))
        p = calib.weight * p_t + (1 - calib.weight) * p_s
        mean_p = np.bincount(groups, weights=p) / per
        results[level] = (calib.weight, roc_auc_score(y_person, mean_p))
    assert results["participant"][0] > results["utterance"][0]
    assert results["participant"][1] > results["utterance"][1]


def test_feature_fusion_text_balance() -> None:
    """`text_balance` scales the text branch's share of the logit (linear head), loads as 1
    from weights saved without it, and `fit_text_balance` picks it on dev participants."""
    torch.manual_seed(0)
    fusion = create_model("bilstm-cnn-fusion").eval()
    batch = make_batch()
    with torch.no_grad():
        m1 = fusion(batch).diff(dim=1)[:, 0]
        fusion.text_balance.fill_(0.0)
        m0 = fusion(batch).diff(dim=1)[:, 0]
        fusion.text_balance.fill_(3.0)
        m3 = fusion(batch).diff(dim=1)[:, 0]
    torch.testing.assert_close(m3, m0 + 3.0 * (m1 - m0))

    state = {k: v for k, v in fusion.state_dict().items() if k != "text_balance"}
    fresh = create_model("bilstm-cnn-fusion")
    fresh.load_state_dict(state)
    assert fresh.text_balance.item() == 1.0

    rng = np.random.default_rng(2)
    n_people, per = 60, 20
    groups = np.repeat(np.arange(n_people), per)
    y = (np.arange(n_people) % 2)[groups]
    speech = (2 * y - 1)[::per] * 1.0 + rng.normal(0, 1.0, n_people)
    without_text = 2.0 * speech[groups]  # confident, but wrong alike for all of a person
    text_part = 0.3 * (2 * y - 1) + rng.normal(0, 1.0, len(y))  # accumulates
    result = fresh.fit_text_balance(without_text + text_part, without_text, y, groups)
    assert result.factor > 1.0 and fresh.text_balance.item() == pytest.approx(result.factor)
    assert fresh.temperature.item() == result.temperature >= 1.0
    assert result.n == len(y) and result.n_participants == n_people


def test_decision_fusion_missing_modality() -> None:
    torch.manual_seed(0)
    model = create_model("decision-fusion").eval()
    batch = make_batch()
    model.calibrate([batch])
    with torch.no_grad():
        z_t = model.text_model(batch).diff(dim=1)[:, 0]
        z_s = model.speech_model(batch).diff(dim=1)[:, 0]
    a_t, b_t = model.platt_text.tolist()
    a_s, b_s = model.platt_speech.tolist()
    p_t = torch.sigmoid(a_t * z_t + b_t)
    p_s = torch.sigmoid(a_s * z_s + b_s)
    w = model.fusion_weight.item()

    both = model.predict_proba(batch)
    torch.testing.assert_close(both, w * p_t + (1 - w) * p_s)
    logits = model(batch)
    torch.testing.assert_close(torch.softmax(logits, -1)[:, 1], both, atol=1e-6, rtol=1e-5)

    speech_only = {k: v for k, v in batch.items() if not k.startswith("tok")}
    torch.testing.assert_close(model.predict_proba(speech_only), p_s)
    text_only = {k: v for k, v in batch.items() if not k.startswith("mel")}
    torch.testing.assert_close(model.predict_proba(text_only), p_t)

    masked = dict(batch, has_text=torch.tensor([True, False, True, True, True, True]))
    masked["mel_lengths"] = batch["mel_lengths"].clone()
    masked["mel_lengths"][0] = 0  # no speech for sample 0
    p = model.predict_proba(masked)
    assert p[1].item() == pytest.approx(p_s[1].item(), abs=1e-6)
    assert p[0].item() == pytest.approx(p_t[0].item(), abs=1e-6)
    per = model.modality_probas(masked)
    assert math.isnan(per["text"][1].item()) and math.isnan(per["speech"][0].item())

    model.train()  # absent modalities must not put NaN into the gradients
    loss_of(model, masked).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)

    with pytest.raises(ConfigError, match="at least one modality"):
        model({"label": batch["label"]})


def test_masked_layers() -> None:
    x = torch.tensor([[[-3.0], [-1.0], [9.0]], [[-2.0], [0.0], [0.0]]])  # (2, 3, 1)
    mask = torch.tensor([[True, True, False], [False, False, False]])
    assert masked_max_pool(x, mask).tolist() == [[-1.0], [0.0]]  # padding 9 ignored; empty -> 0

    img = torch.randn(2, 1, 5, 4)
    out, lengths = masked_pool2d(img, torch.tensor([1, 5]), pool_time=2, pool_freq=2)
    assert out.shape == (2, 1, 3, 2) and lengths.tolist() == [1, 3]
    assert (out[0, :, 1:] == 0).all()
    assert out[0, 0, 0].tolist() == img[0, 0, 0].reshape(2, 2).amax(dim=1).tolist()

    lstm = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    out, last = run_lstm(lstm, torch.randn(3, 4, 3), torch.tensor([0, 1, 4]))
    assert out.shape == (3, 4, 8) and last.shape == (3, 8)
    assert (out[0] == 0).all() and (last[0] == 0).all() and (out[1, 1:] == 0).all()


@pytest.mark.parametrize(
    "name", ["lstm-speech", "cnn-speech", "lstm-cnn-speech", "bilstm-cnn-fusion"]
)
def test_gradients_ignore_padding(name: str) -> None:
    """Training sees the same gradients whatever padding (here junk) the batch carries."""
    torch.manual_seed(0)
    model = create_model(name).eval()  # eval: no dropout, so both passes are deterministic

    def grads(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        model.zero_grad()
        loss_of(model, batch).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    plain, padded = grads(make_batch()), grads(make_batch(extra_text=5, extra_frames=13))
    assert plain.keys() == padded.keys() and plain
    for n in plain:
        torch.testing.assert_close(padded[n], plain[n], atol=1e-5, rtol=1e-4, msg=n)


def test_speech_config_per_block_and_time_reduction() -> None:
    cnn = create_model("cnn-speech", pool_time=2, pool_freq=2, stride=1)  # the old layout
    assert cnn.config.pool_time == (2, 2, 2) and cnn.config.stride == (1, 1, 1)
    assert create_model("cnn-speech", **cnn.config_dict()).config_dict() == cnn.config_dict()
    assert time_reduction(cnn) == 8 and cnn.feature_dim == 32 * 8
    default = create_model("lstm-cnn-speech")
    assert default.config.stride == (2, 1, 1) and time_reduction(default) == 8
    assert default.cnn.out_dim == 32 * 8
    assert time_reduction(create_model("lstm-speech")) == 4
    assert time_reduction(create_model("lstm-speech", frame_stack=1)) == 1
    odd = create_model("cnn-speech", n_mels=40)  # 40 -> 20 -> 10 -> 5: no band dropped
    assert odd.feature_dim == 32 * 5
    batch = make_batch()
    batch["mel"] = batch["mel"][..., :40]
    assert odd(batch).shape == (len(MEL_LENGTHS), 2)


def test_conv_stack_lengths_and_padding() -> None:
    torch.manual_seed(0)
    model = create_model("lstm-cnn-speech").eval()
    batch = make_batch(extra_frames=13)
    with torch.no_grad():
        frames, lengths = model.cnn(batch["mel"], batch["mel_lengths"])
    expected = [-(-n // 8) for n in MEL_LENGTHS]  # ceil(n / 8)
    assert lengths.tolist() == expected
    assert frames.shape == (len(MEL_LENGTHS), -(-(max(MEL_LENGTHS) + 13) // 8), 256)
    for row, n in enumerate(expected):
        assert (frames[row, n:] == 0).all() and torch.isfinite(frames[row]).all()


def test_unidirectional_lstm_matches_running_each_row_alone() -> None:
    torch.manual_seed(0)
    for layers in (1, 2):
        lstm = torch.nn.LSTM(3, 4, num_layers=layers, batch_first=True)
        x = torch.randn(4, 6, 3)
        lengths = torch.tensor([0, 1, 6, 3])
        out, last = run_lstm(lstm, x, lengths)
        assert (out[0] == 0).all() and (last[0] == 0).all() and (out[3, 3:] == 0).all()
        for row in (1, 2, 3):
            n = int(lengths[row])
            alone, (h_n, _) = lstm(x[row : row + 1, :n])
            torch.testing.assert_close(out[row, :n], alone[0])
            torch.testing.assert_close(last[row], h_n[-1, 0])


def test_fill_frames_and_stack_frames() -> None:
    x = torch.randn(3, 2, 6, 4, requires_grad=True)
    start, stop = torch.tensor([2, 6, 0]), torch.tensor([4, 9, 1])
    expected = x.detach().clone()
    expected[0, :, 2:4] = -1.0
    expected[2, :, 0:1] = -1.0
    out = fill_frames(x, start, stop, -1.0)
    torch.testing.assert_close(out, expected)
    weights = torch.randn(3, 2, 6, 4)
    (out * weights).sum().backward()
    grad_copy = x.grad.clone()
    x.grad = None
    inplace = fill_frames(x * 1.0, start, stop, -1.0, inplace=True)  # on an intermediate
    torch.testing.assert_close(inplace, expected)
    (inplace * weights).sum().backward()
    torch.testing.assert_close(x.grad, grad_copy)
    assert (x.grad[0, :, 2:4] == 0).all() and (x.grad[1] != 0).all()

    frames = torch.arange(2 * 5 * 2, dtype=torch.float32).reshape(2, 5, 2)
    steps, lengths = stack_frames(frames, torch.tensor([5, 2]), 2)
    assert steps.shape == (2, 3, 4) and lengths.tolist() == [3, 1]
    assert steps[0, 0].tolist() == frames[0, :2].reshape(-1).tolist()
    assert steps[0, 2].tolist() == [8.0, 9.0, 0.0, 0.0]  # completed with a zero frame
