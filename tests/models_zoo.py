"""Real library models, built small and generically (tests/test_real_models.py, benchmarks/zoo.py).

Factories for the worker: ``models_zoo:transformers_model`` builds any model type of the
installed transformers from its default config with the sizes shrunk by attribute name
(no weights, no downloads); ``models_zoo:rechub_model`` builds any Torch-RecHub model from
a small set of features, filling its constructor's parameters by their names.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from torch import nn

#: attribute-name patterns of config sizes and the small value each is capped at
_SIZES: tuple[tuple[str, int], ...] = (
    (r"(^|_)(num_)?(hidden_)?layers$|^n_layers?$|^num_(encoder|decoder)_layers$", 2),
    (r"^num_(hidden_|encoder_|decoder_)?blocks$|^depths?$", 2),
    (r"key_value_heads$|^num_kv_heads$|^n_head_kv$|^multi_query_group_num$", 1),
    (r"(^|_)(attention_)?heads$|^n_heads?$|^num_heads$", 2),
    (r"^(hidden_size|d_model|n_embd|embed_dim|embedding_size|dim|word_embed_proj_dim)$", 32),
    (r"^(projection_dim|hidden_dim|d_embed|text_embed_dim|vision_embed_dim)$", 32),
    (r"intermediate_size$|^d_ff$|ffn_dim$|^n_inner$|^d_inner$|^ffn_hidden_size$", 64),
    (r"^(head_dim|d_kv|attention_head_size|d_head|kv_channels)$", 16),
    (r"^rotary_dim$|^rotary_emb_dim$", 8),
    (r"^num_(local_)?experts$|^n_routed_experts$|^moe_num_experts$", 4),
    (r"^num_experts_per_tok$|^moe_topk$|^top_k$", 2),
)


def shrink(config: Any) -> Any:
    """Cap size attributes of a transformers config (and its sub-configs) in place."""
    from transformers import PretrainedConfig

    for name, value in list(vars(config).items()):
        if isinstance(value, PretrainedConfig):
            shrink(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            for pattern, cap in _SIZES:
                if re.search(pattern, name):
                    setattr(config, name, min(value, cap) if value > 0 else value)
                    break
        elif isinstance(value, list) and name in {"depths", "layers_block_type", "block_types"}:
            setattr(config, name, value[:2])
    return config


def transformers_model(
    model_type: str,
    auto_class: str = "AutoModel",
    tiny: bool = True,
    overrides: dict[str, Any] | None = None,
) -> Any:
    """``auto_class.from_config`` of ``model_type``'s default config, shrunk if ``tiny``,
    then ``overrides`` set on it (e.g. ``{"num_hidden_layers": 6}``)."""
    import transformers

    config = transformers.AutoConfig.for_model(model_type)
    if tiny:
        shrink(config)
    for name, value in (overrides or {}).items():
        setattr(config, name, value)
    return getattr(transformers, auto_class).from_config(config)


# -- Torch-RecHub


def rechub_features() -> dict[str, Any]:
    """A small feature set every model's constructor can draw from (built per call)."""
    from torch_rechub.basic.features import DenseFeature, SequenceFeature, SparseFeature

    user = SparseFeature("user_id", vocab_size=100, embed_dim=8)
    item = SparseFeature("item_id", vocab_size=200, embed_dim=8)
    cate = SparseFeature("cate_id", vocab_size=20, embed_dim=8)
    hist = SequenceFeature(
        "hist_item_id", vocab_size=200, embed_dim=8, pooling="concat", shared_with="item_id"
    )
    hist_cate = SequenceFeature(
        "hist_cate_id", vocab_size=20, embed_dim=8, pooling="concat", shared_with="cate_id"
    )
    pooled = SequenceFeature(
        "hist_item_mean", vocab_size=200, embed_dim=8, pooling="mean", shared_with="item_id"
    )
    return {
        "user": user,
        "item": item,
        "cate": cate,
        "hist": hist,
        "hist_cate": hist_cate,
        "pooled": pooled,
        "dense": DenseFeature("age"),
    }


def rechub_models() -> dict[str, tuple[str, type]]:
    """Every model class Torch-RecHub exports: name -> (family, class)."""
    import importlib

    found: dict[str, tuple[str, type]] = {}
    for family in ("ranking", "matching", "multi_task", "generative"):
        module = importlib.import_module(f"torch_rechub.models.{family}")
        for name in getattr(module, "__all__", dir(module)):
            obj = getattr(module, name, None)
            if isinstance(obj, type) and issubclass(obj, nn.Module):
                found[name] = (family, obj)
    return found


def _matching_overrides(f: dict[str, Any]) -> dict[str, Any]:
    """Matching models' towers: pooled user features, ONE concatenated history, one item id
    and a sequence of negative items (their examples' shapes)."""
    from torch_rechub.basic.features import SequenceFeature

    negatives = SequenceFeature(
        "neg_items", vocab_size=200, embed_dim=8, pooling="concat", shared_with="item_id"
    )
    return {
        "user_features": [f["user"]],
        "history_features": [f["hist"]],
        "item_features": [f["item"]],
        "neg_item_feature": [negatives],
        "user_params": {"dims": [8]},  # the user tower ends at the item embedding's width
    }


#: per-model arguments where the shared choice by name does not fit the model's conventions
_OVERRIDES: dict[str, Any] = {
    **dict.fromkeys(
        ("YoutubeDNN", "GRU4Rec", "MIND", "ComirecDR", "ComirecSA"), _matching_overrides
    ),
    "DIN": lambda f: {"features": [f["user"], f["item"]]},  # no dense: its MLP counts ids
}


def rechub_model(name: str) -> nn.Module:
    """Torch-RecHub's ``name`` built from :func:`rechub_features`, arguments filled by name."""
    cls = rechub_models()[name][1]
    f = rechub_features()
    overrides = _OVERRIDES[name](f) if name in _OVERRIDES else {}
    kwargs: dict[str, Any] = {}
    for param in inspect.signature(cls.__init__).parameters.values():
        if param.name == "self" or param.kind in {param.VAR_POSITIONAL, param.VAR_KEYWORD}:
            continue
        value = overrides.get(param.name, _rechub_argument(param.name, f))
        if value is not None:
            kwargs[param.name] = value
        elif param.default is param.empty:
            raise TypeError(f"{name}: no small value for required parameter {param.name!r}")
    return cls(**kwargs)  # type: ignore[no-any-return]


def _rechub_argument(name: str, f: dict[str, Any]) -> Any:
    """A small value for one constructor parameter, chosen by its name alone."""
    import torch

    mlp = {"dims": [16]}
    by_name: dict[str, Any] = {
        "user_features": [f["user"], f["pooled"]],
        "item_features": [f["item"], f["cate"]],
        "pos_item_features": [f["item"], f["cate"]],
        "neg_item_features": [f["item"], f["cate"]],
        "history_features": [f["hist"], f["hist_cate"]],
        "neg_history_features": [f["hist"], f["hist_cate"]],
        "target_features": [f["item"], f["cate"]],
        "neg_item_feature": [f["item"]],
        "item_history_feature": f["hist"],
        "item_feature": f["item"],
        "sample_weight_feature": [f["dense"]],
        "features": [f["user"], f["item"], f["dense"]],
        "deep_features": [f["user"], f["item"], f["dense"]],
        "sparse_features": [f["user"], f["item"]],
        "dense_features": [f["dense"]],
        "fm_features": [f["user"], f["item"]],
        "wide_features": [f["user"], f["item"]],
        "linear_features": [f["user"], f["item"]],
        "cross_features": [f["user"], f["item"]],
        "sequence_features": [f["hist"]],
        "task_types": ["classification", "classification"],
        "n_task": 2,
        "n_expert": 2,
        "n_level": 1,
        "n_expert_specific": 1,
        "n_expert_shared": 1,
        "mlp_params": mlp,
        "user_params": mlp,
        "item_params": mlp,
        "expert_params": mlp,
        "attention_mlp_params": mlp,
        "cvr_params": mlp,
        "ctr_params": mlp,
        "tower_params_list": [mlp, mlp],
        "bottom_params": mlp,
        "n_cross_layers": 1,
        "cross_num": 1,
        "embed_dim": 8,
        "embedding_dim": 8,
        "reduction_ratio": 2,
        "batch_size": 2,
        "max_length": 10,
        "seq_max_len": 10,
        "max_seq_len": 16,
        "hidden_dim": 16,
        "emb_dropout_p": 0.0,
        "session_rep_dropout_p": 0.0,
        "weight_std": 0.01,
        "emb_std": 0.01,
        "num_items": 200,
        "num_concept": 4,
        "num_intention": 2,
        "vocab_size": 100,
        "d_model": 32,
        "n_heads": 2,
        "n_layers": 2,
        "dqk": 16,
        "dv": 16,
        "item_embeddings": torch.zeros(100, 32),
        "in_dim": 32,
        "e_dim": 8,
        "num_emb_list": [16, 16],
        "sk_epsilons": [0.0, 0.0],
        "layers": [32],
    }
    if name == "config":  # TIGER: a T5 config
        from transformers import T5Config

        return T5Config(vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=2)
    return by_name.get(name)
