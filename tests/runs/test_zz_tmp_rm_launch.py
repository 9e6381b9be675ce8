import json
import pytest
from r1web.runs.recipes import launch
pytestmark = pytest.mark.django_db

def test_launch_r1(tmp_path, settings):
    settings.MODELS_DIR = tmp_path / "models"
    (settings.MODELS_DIR / "base").mkdir(parents=True)
    (settings.MODELS_DIR / "base" / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    run = launch("r1", {"model": "base"})
    rm = run.stages.get(key="reward-model")
    print(rm.trl_config, rm.params, list(rm.inputs.values("role", "version__dataset__name", "version__dataset__kind")))
    print(run.stages.get(key="rl-preference").params)
