"""A tiny random-weight llama GGUF model, so tests run real llama.cpp inference in milliseconds.

The file is a complete llama-architecture model: a byte-level SentencePiece vocabulary (every
UTF-8 text tokenizes, one token per byte), every tensor llama.cpp expects, and a chat template.
Its weights are random but shaped so that generation only ever samples printable ASCII: the
output projection is zero for every other token, so control tokens (EOS included) and non-ASCII
bytes always lose to the large printable logits. Completions therefore always run to
``max_tokens`` (finish reason ``length``) and always decode to non-empty text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np
from numpy.typing import NDArray

UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
FIRST_BYTE_ID = 3
# SentencePiece writes spaces as U+2581; a normal token for it keeps prompts one token per byte
# and makes detokenized text show a plain space.
SPACE_PIECE = "\u2581"
PRINTABLE = range(0x20, 0x7F)
# Target spread of the printable logits: wide enough that a zero logit (every other token) has
# a negligible chance under any sampler, including plain temperature 1 sampling.
LOGIT_STD = 8.0
DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}"
)

Array = NDArray[np.float32]


@dataclass(frozen=True)
class TinyShape:
    """The hyper-parameters of a tiny model; ``n_embd`` must divide evenly into heads."""

    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    n_ff: int
    context_length: int

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def validate(self) -> None:
        """Raise ``ValueError`` for a shape llama.cpp would refuse or mis-load."""
        if min(self.n_layer, self.n_embd, self.n_head, self.n_head_kv, self.n_ff) < 1:
            raise ValueError("every dimension of a tiny model must be at least 1")
        if self.n_embd % self.n_head or self.head_dim % 2:
            raise ValueError("n_embd must split into n_head heads of an even size (RoPE)")
        if self.n_head % self.n_head_kv:
            raise ValueError("n_head must be a multiple of n_head_kv")
        if self.context_length < 16:
            raise ValueError("context_length must be at least 16")


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    """The token texts, scores and types: unk/BOS/EOS, 256 byte tokens, then the space piece."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{byte:02X}>" for byte in range(256)] + [SPACE_PIECE]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * 256 + [gguf.TokenType.NORMAL]
    return tokens, [0.0] * len(tokens), [int(kind) for kind in types]


def write_tiny_model(
    path: Path,
    *,
    seed: int = 0,
    n_layer: int = 2,
    n_embd: int = 64,
    n_head: int = 4,
    n_head_kv: int = 2,
    n_ff: int = 128,
    context_length: int = 2048,
    name: str = "flowllama-tiny",
    chat_template: str | None = DEFAULT_CHAT_TEMPLATE,
) -> Path:
    """Write a tiny llama GGUF (f32, well under 1 MB at the defaults) to ``path``; return it.

    The bytes depend only on the arguments, so the same seed always gives the same file. The
    file appears atomically (written beside ``path``, then renamed), so concurrent test
    processes never read a half-written model. Raises ``ValueError`` for an impossible shape.
    """
    shape = TinyShape(n_layer, n_embd, n_head, n_head_kv, n_ff, context_length)
    shape.validate()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    writer = gguf.GGUFWriter(partial, arch="llama")
    try:
        _add_metadata(writer, shape, name, chat_template)
        for tensor_name, array in _tensors(shape, np.random.default_rng(seed)):
            writer.add_tensor(tensor_name, array)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(partial, path)
    finally:
        writer.close()
        partial.unlink(missing_ok=True)
    return path


def _add_metadata(
    writer: gguf.GGUFWriter, shape: TinyShape, name: str, chat_template: str | None
) -> None:
    tokens, scores, types = vocabulary()
    writer.add_name(name)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(shape.context_length)
    writer.add_embedding_length(shape.n_embd)
    writer.add_block_count(shape.n_layer)
    writer.add_feed_forward_length(shape.n_ff)
    writer.add_head_count(shape.n_head)
    writer.add_head_count_kv(shape.n_head_kv)
    writer.add_rope_dimension_count(shape.head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(UNK_ID)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    if chat_template is not None:
        writer.add_chat_template(chat_template)


def _tensors(shape: TinyShape, rng: np.random.Generator) -> list[tuple[str, Array]]:
    """Every tensor of the model in a fixed order (numpy shape = llama.cpp's ``ne`` reversed)."""
    n_vocab = len(vocabulary()[0])
    kv_dim = shape.head_dim * shape.n_head_kv
    kind = gguf.MODEL_TENSOR
    tensors = [(_name(kind.TOKEN_EMBD), _normal(rng, (n_vocab, shape.n_embd), 1.0))]
    for block in range(shape.n_layer):
        tensors += [
            (_name(kind.ATTN_NORM, block), _ones(shape.n_embd)),
            (_name(kind.ATTN_Q, block), _linear(rng, shape.n_embd, shape.n_embd)),
            (_name(kind.ATTN_K, block), _linear(rng, shape.n_embd, kv_dim)),
            (_name(kind.ATTN_V, block), _linear(rng, shape.n_embd, kv_dim)),
            (_name(kind.ATTN_OUT, block), _linear(rng, shape.n_embd, shape.n_embd)),
            (_name(kind.FFN_NORM, block), _ones(shape.n_embd)),
            (_name(kind.FFN_GATE, block), _linear(rng, shape.n_embd, shape.n_ff)),
            (_name(kind.FFN_UP, block), _linear(rng, shape.n_embd, shape.n_ff)),
            (_name(kind.FFN_DOWN, block), _linear(rng, shape.n_ff, shape.n_embd)),
        ]
    tensors.append((_name(kind.OUTPUT_NORM), _ones(shape.n_embd)))
    tensors.append((_name(kind.OUTPUT), _output(rng, shape, n_vocab)))
    return tensors


def _name(kind: gguf.MODEL_TENSOR, block: int = 0) -> str:
    # gguf's own name table, so the names always match what llama.cpp looks up.
    return gguf.TENSOR_NAMES[kind].format(bid=block) + ".weight"


def _output(rng: np.random.Generator, shape: TinyShape, n_vocab: int) -> Array:
    """The output projection: random rows for printable bytes, zero rows for everything else.

    The final RMS norm makes the hidden state's length exactly sqrt(n_embd), so scaling the
    rows by LOGIT_STD / sqrt(n_embd) gives printable logits a spread of about LOGIT_STD.
    """
    weights = np.zeros((n_vocab, shape.n_embd), dtype=np.float32)
    rows = [FIRST_BYTE_ID + byte for byte in PRINTABLE]
    weights[rows] = _normal(rng, (len(rows), shape.n_embd), LOGIT_STD / np.sqrt(shape.n_embd))
    return weights


def _linear(rng: np.random.Generator, fan_in: int, fan_out: int) -> Array:
    # Scaled by 1/sqrt(fan_in) so activations keep unit size through the random layers.
    return _normal(rng, (fan_out, fan_in), 1.0 / np.sqrt(fan_in))


def _ones(size: int) -> Array:
    # Norm weights of one leave the normalised activations at unit scale.
    return np.ones(size, dtype=np.float32)


def _normal(rng: np.random.Generator, size: tuple[int, int], scale: float) -> Array:
    return rng.normal(0.0, scale, size=size).astype(np.float32)
