"""Generation backends: `base` is the interface; `plugin` registers the harness's own backends
(`transformers`, `vllm`, `openai`, `scripted`) through the plugin registry, as any plugin would."""
