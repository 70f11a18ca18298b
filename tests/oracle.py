"""The reference: transformers' MusicGen with random weights, written in the exact hub layout.

`python tests/oracle.py` rebuilds the committed fixtures (tests/fixtures/{mono,stereo}/: a checkpoint
folder + reference.npz). The tests also call `build` and `reference` live when torch is installed, with a
fresh seed, so the comparison is not tied to one set of weights. Needs torch and transformers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # torch crawls on 2 cores otherwise

import numpy as np

FIXTURES = Path(__file__).parent / "fixtures"
PROMPTS = ["warm analog synth pad with slow drums", "fast techno"]  # the second pads in a batch
TEACHER_FRAMES = 12
GREEDY_FRAMES = 20
ENCODE_SECONDS = 0.5
CONTINUE_STEPS = 12
CHROMA_LENGTH = 16  # the melody prefix (235 frames in Meta's checkpoints), short to keep fixtures small


def configs(stereo: bool, text_vocab: int) -> dict:
    return {
        "text_encoder": dict(vocab_size=text_vocab, d_model=16, d_kv=4, d_ff=32, num_layers=2, num_heads=4,
                             relative_attention_num_buckets=8, relative_attention_max_distance=16,
                             feed_forward_proj="relu", decoder_start_token_id=0, pad_token_id=0, eos_token_id=1),
        "audio_encoder": dict(sampling_rate=32000, audio_channels=1, hidden_size=16, num_filters=4,
                              upsampling_ratios=[8, 5, 4, 4], codebook_size=2048, target_bandwidths=[2.2],
                              use_causal_conv=False, use_conv_shortcut=False, normalize=False,
                              num_residual_layers=1, num_lstm_layers=2, compress=2, pad_mode="reflect"),
        "decoder": dict(vocab_size=2048, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, ffn_dim=128,
                        num_codebooks=8 if stereo else 4, audio_channels=2 if stereo else 1,
                        max_position_embeddings=512, pad_token_id=2048, bos_token_id=2048,
                        decoder_start_token_id=2048),
    }


def train_tokenizer(folder: Path):
    """A small T5-style sentencepiece-unigram tokenizer trained here, saved as T5TokenizerFast saves it."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import T5TokenizerFast

    corpus = [
        "warm analog synth pad with slow drums", "fast techno with heavy kick and bass",
        "lofi hip hop beat with piano chords", "cinematic orchestral strings and brass",
        "jazz trio with upright bass and brushed drums", "ambient drone with reverb and soft noise",
    ] * 20
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(corpus, trainers.UnigramTrainer(
        vocab_size=120, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"))
    fast = T5TokenizerFast(tokenizer_object=tok, eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                           extra_ids=0)
    fast.save_pretrained(folder)
    return fast


def _randomize(model, seed: int):
    """transformers' init (std 0.02) makes near-uniform logits; draw wider weights so that greedy
    decisions are far from ties and a real mismatch cannot hide in float noise."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("layer_norm.weight", "final_layer_norm.weight")) or "original0" in name:
                p.copy_(1 + 0.2 * torch.rand(p.shape, generator=gen))
            elif p.ndim == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in**0.5)
        for name, buf in model.named_buffers():
            if name.endswith("codebook.embed"):
                buf.copy_(torch.randn(buf.shape, generator=gen))


def build(folder: Path, stereo: bool, seed: int = 0, melody: bool = False):
    """Write a random-weight checkpoint in the hub layout; returns the transformers model and tokenizer."""
    import torch
    import transformers as tf

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(folder)
    parts = configs(stereo, len(tokenizer))
    Config, DecoderConfig, Model = ((tf.MusicgenMelodyConfig, tf.MusicgenMelodyDecoderConfig,
                                     tf.MusicgenMelodyForConditionalGeneration) if melody else
                                    (tf.MusicgenConfig, tf.MusicgenDecoderConfig, tf.MusicgenForConditionalGeneration))
    config = Config(text_encoder=tf.T5Config(**parts["text_encoder"]).to_dict(),
                    audio_encoder=tf.EncodecConfig(**parts["audio_encoder"]).to_dict(),
                    decoder=DecoderConfig(**parts["decoder"]).to_dict(),
                    **({"chroma_length": CHROMA_LENGTH} if melody else {}))
    torch.manual_seed(seed)
    model = Model(config).eval()
    _randomize(model, seed)
    model.generation_config.decoder_start_token_id = 2048
    model.generation_config.pad_token_id = 2048
    model.save_pretrained(folder, safe_serialization=True)
    return model, tokenizer


def reference(model, tokenizer, seed: int = 0) -> dict[str, np.ndarray]:
    """Everything the parity tests compare against, as numpy arrays (float32 / int64)."""
    import torch

    rng = np.random.default_rng(seed + 1)
    K = model.decoder.config.num_codebooks
    out: dict[str, np.ndarray] = {}
    with torch.no_grad():
        batch = tokenizer(PROMPTS, return_tensors="pt", padding=True)
        out["input_ids"], out["attention_mask"] = batch.input_ids.numpy(), batch.attention_mask.numpy()
        out["t5_hidden"] = model.text_encoder(**batch).last_hidden_state.numpy()

        # teacher forcing: prompt 0, a BOS column then random codes, for every codebook
        single = tokenizer(PROMPTS[:1], return_tensors="pt")
        codes = rng.integers(0, 2048, size=(K, TEACHER_FRAMES))
        codes[:, 0] = 2048
        out["teacher_codes"] = codes
        logits = model(**single, decoder_input_ids=torch.tensor(codes).reshape(K, -1)).logits
        out["teacher_logits"] = logits.reshape(1, K, TEACHER_FRAMES, -1).numpy()

        # greedy generation with guidance 3: the codes handed to EnCodec, and the audio
        delays = model.decoder.config.num_codebooks // model.decoder.config.audio_channels - 1
        out["greedy_codes"], audio = _generate(model, **single, max_new_tokens=GREEDY_FRAMES + delays)
        out["greedy_audio"] = audio.numpy()

        # the codec alone: decode random codes, encode a test signal
        n_q = 4
        random_codes = rng.integers(0, 2048, size=(1, n_q, 25))
        out["codec_codes"] = random_codes
        out["codec_audio"] = model.audio_encoder.decode(torch.tensor(random_codes)[None], [None]).audio_values.numpy()
        t = np.arange(int(32000 * ENCODE_SECONDS)) / 32000
        signal = (0.4 * np.sin(2 * np.pi * 220 * t) + 0.1 * rng.standard_normal(t.shape)).astype(np.float32)
        out["encode_audio"] = signal[None]
        encoded = model.audio_encoder.encode(torch.tensor(signal)[None, None], bandwidth=2.2).audio_codes
        out["encode_codes"] = encoded[0].numpy()

        # continuation: the test signal as an audio prompt (a stereo model gets a different right channel)
        prompt = signal[None]
        if model.decoder.config.audio_channels == 2:
            prompt = np.stack([signal, (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)])
        out["continue_audio"] = prompt
        out["continue_codes"], _ = _generate(model, **single, input_values=torch.tensor(prompt)[None],
                                             max_new_tokens=CONTINUE_STEPS)
    return out


def _generate(model, **kwargs):
    """transformers' greedy generate with guidance 3 → (codes [1, K, frames] as EnCodec got them, audio)."""
    captured = []
    decode = model.audio_encoder.decode

    def spy(codes, *args, **kw):
        captured.append(codes[0].numpy())
        return decode(codes, *args, **kw)

    model.audio_encoder.decode = spy
    try:
        audio = model.generate(**kwargs, do_sample=False, guidance_scale=3.0)
    finally:
        model.audio_encoder.decode = decode
    channels = model.decoder.config.audio_channels
    codes = np.zeros((1, model.decoder.config.num_codebooks, captured[0].shape[-1]), dtype=np.int64)
    for c, part in enumerate(captured):
        codes[:, c::channels] = part
    return codes, audio


def melody_reference(model, tokenizer, seed: int = 0) -> dict[str, np.ndarray]:
    """Greedy codes with guidance 3 for a one-hot chroma melody and for none (the null chroma)."""
    import torch

    rng = np.random.default_rng(seed + 2)
    chroma = np.eye(12, dtype=np.float32)[rng.integers(0, 12, 10)][None]  # [1, frames, 12], shorter than the prefix
    single = tokenizer(PROMPTS[:1], return_tensors="pt")
    delays = model.decoder.config.num_codebooks // model.decoder.config.audio_channels - 1
    out = {"chroma": chroma}
    with torch.no_grad():
        out["melody_codes"], _ = _generate(model, **single, input_features=torch.tensor(chroma),
                                           max_new_tokens=GREEDY_FRAMES + delays)
        out["null_codes"], _ = _generate(model, **single, max_new_tokens=GREEDY_FRAMES + delays)
        # past the sinusoid table (max_position_embeddings): transformers grows it with the same formula
        long = model.decoder.config.max_position_embeddings + 40
        out["long_codes"], _ = _generate(model, **single, input_features=torch.tensor(chroma), max_new_tokens=long)
    return out


def write_fixtures():
    for name, stereo in (("mono", False), ("stereo", True)):
        folder = FIXTURES / name
        model, tokenizer = build(folder, stereo, seed=0)
        np.savez_compressed(folder / "reference.npz", **reference(model, tokenizer, seed=0))
        print("wrote", folder)
    for name, stereo in (("melody", False), ("stereo-melody", True)):
        folder = FIXTURES / name
        model, tokenizer = build(folder, stereo, seed=0, melody=True)
        np.savez_compressed(folder / "reference.npz", **melody_reference(model, tokenizer, seed=0))
        print("wrote", folder)


if __name__ == "__main__":
    sys.exit(write_fixtures())
