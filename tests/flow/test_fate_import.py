"""FATE jobs (DSL v1, DSL v2, the 2.x DAG) become Atoll jobs; what Atoll cannot honour is refused.

The fixtures follow FATE's own examples (``examples/dsl/v1/hetero_logistic_regression``,
``examples/dsl/v2/hetero_logistic_regression``, the 2.x DAG guide), with their tables
mapped to files. The toy example (SecureAddExample) runs end to end across real gateways.
"""

from __future__ import annotations

import copy
import json
import logging
import math

import numpy as np
import pytest
import yaml

from atoll.federation import Party
from atoll.flow.fate import FateImportError, import_fate_job, load_fate_job
from atoll.flow.spec import parse_job, plan_job

TABLES = {
    "experiment.breast_hetero_guest": "/data/breast_hetero_guest.csv",
    "experiment.breast_hetero_host": "/data/breast_hetero_host.csv",
}

# -------------------------------------------------------------------------------- fixtures

TOY_DSL = {"components": {"secure_add_example_0": {"module": "SecureAddExample"}}}
TOY_CONF = {
    "initiator": {"role": "guest", "party_id": 9999},
    "job_parameters": {"work_mode": 1},
    "role": {"guest": [9999], "host": [10000]},
    "role_parameters": {
        "guest": {"secure_add_example_0": {"seed": [123]}},
        "host": {"secure_add_example_0": {"seed": [321]}},
    },
    "algorithm_parameters": {"secure_add_example_0": {"partition": 10, "data_num": 1000}},
}

# DSL v1: tables come in through ``args``; DataIO holds the label settings.
V1_DSL = {
    "components": {
        "dataio_0": {
            "module": "DataIO",
            "input": {"data": {"data": ["args.train_data"]}},
            "output": {"data": ["train"], "model": ["dataio"]},
        },
        "intersection_0": {
            "module": "Intersection",
            "input": {"data": {"data": ["dataio_0.train"]}},
            "output": {"data": ["train"]},
        },
        "hetero_lr_0": {
            "module": "HeteroLR",
            "input": {"data": {"train_data": ["intersection_0.train"]}},
            "output": {"data": ["train"], "model": ["hetero_lr"]},
        },
        "evaluation_0": {
            "module": "Evaluation",
            "input": {"data": {"data": ["hetero_lr_0.train"]}},
            "output": {"data": ["evaluate"]},
        },
    }
}
V1_CONF = {
    "initiator": {"role": "guest", "party_id": 9999},
    "job_parameters": {"work_mode": 0},
    "role": {"guest": [9999], "host": [10000], "arbiter": [10001]},
    "role_parameters": {
        "guest": {
            "args": {
                "data": {"train_data": [{"name": "breast_hetero_guest", "namespace": "experiment"}]}
            },
            "dataio_0": {
                "with_label": [True],
                "label_name": ["y"],
                "label_type": ["int"],
                "output_format": ["dense"],
                "missing_fill": [True],
                "outlier_replace": [True],
            },
            "evaluation_0": {"eval_type": ["binary"], "pos_label": [1]},
        },
        "host": {
            "args": {
                "data": {"train_data": [{"name": "breast_hetero_host", "namespace": "experiment"}]}
            },
            "dataio_0": {
                "with_label": [False],
                "output_format": ["dense"],
                "outlier_replace": [True],
            },
            "evaluation_0": {"need_run": [False]},
        },
    },
    "algorithm_parameters": {
        "hetero_lr_0": {
            "penalty": "L2",
            "optimizer": "rmsprop",
            "tol": 0.0001,
            "alpha": 0.01,
            "max_iter": 30,
            "early_stop": "diff",
            "batch_size": -1,
            "learning_rate": 0.15,
            "init_param": {"init_method": "zeros"},
            "encrypt_param": {"method": "Paillier", "key_length": 1024},
            "sqn_param": {
                "update_interval_L": 3,
                "memory_M": 5,
                "sample_size": 5000,
                "random_seed": None,
            },
            "cv_param": {"n_splits": 5, "shuffle": False, "random_seed": 103, "need_cv": False},
        },
        "intersection_0": {
            "intersect_method": "rsa",
            "sync_intersect_ids": True,
            "only_output_key": False,
        },
    },
}

# DSL v2: Reader components; conf with component_parameters (common, role -> index).
V2_DSL = {
    "components": {
        "reader_0": {"module": "Reader", "output": {"data": ["data"]}},
        "data_transform_0": {
            "module": "DataTransform",
            "input": {"data": {"data": ["reader_0.data"]}},
            "output": {"data": ["data"], "model": ["model"]},
        },
        "intersection_0": {
            "module": "Intersection",
            "input": {"data": {"data": ["data_transform_0.data"]}},
            "output": {"data": ["data"]},
        },
        "feature_scale_0": {
            "module": "FeatureScale",
            "input": {"data": {"data": ["intersection_0.data"]}},
            "output": {"data": ["data"], "model": ["model"]},
        },
        "hetero_lr_0": {
            "module": "HeteroLR",
            "input": {"data": {"train_data": ["feature_scale_0.data"]}},
            "output": {"data": ["data"], "model": ["model"]},
        },
        "hetero_lr_1": {
            "module": "HeteroLR",
            "input": {
                "data": {"train_data": ["feature_scale_0.data"]},
                "model": ["hetero_lr_0.model"],
            },
            "output": {"data": ["data"], "model": ["model"]},
        },
        "evaluation_0": {
            "module": "Evaluation",
            "input": {"data": {"data": ["hetero_lr_0.data", "hetero_lr_1.data"]}},
            "output": {"data": ["data"]},
        },
    }
}
V2_CONF = {
    "dsl_version": 2,
    "initiator": {"role": "guest", "party_id": 9999},
    "role": {"arbiter": [10000], "host": [10000, 10002], "guest": [9999]},
    "job_parameters": {"common": {"task_parallelism": 2}},
    "component_parameters": {
        "common": {
            "hetero_lr_0": {
                "penalty": "L2",
                "optimizer": "nesterov_momentum_sgd",
                "tol": 0.0001,
                "alpha": 0.01,
                "early_stop": "weight_diff",
                "batch_size": -1,
                "learning_rate": 0.15,
                "max_iter": 5,
                "init_param": {"init_method": "zeros", "fit_intercept": True},
                "encrypt_param": {"key_length": 1024},
                "callback_param": {"callbacks": ["ModelCheckpoint"], "save_freq": 1},
            },
            "hetero_lr_1": {
                "penalty": "L1",
                "optimizer": "sgd",
                "max_iter": 3,
                "encrypt_param": {"key_length": 1024},
            },
            "intersection_0": {
                "intersect_method": "rsa",
                "rsa_params": {
                    "hash_method": "sha256",
                    "final_hash_method": "sha256",
                    "key_length": 2048,
                },
            },
            "feature_scale_0": {"method": "min_max_scale", "scale_col_indexes": -1},
            "evaluation_0": {"eval_type": "binary", "pos_label": 1},
        },
        "role": {
            "guest": {
                "0": {
                    "reader_0": {
                        "table": {"name": "breast_hetero_guest", "namespace": "experiment"}
                    },
                    "data_transform_0": {
                        "with_label": True,
                        "label_name": "y",
                        "label_type": "int",
                        "output_format": "dense",
                    },
                }
            },
            "host": {
                "all": {"data_transform_0": {"with_label": False}},
                "0": {
                    "reader_0": {"table": {"name": "breast_hetero_host", "namespace": "experiment"}}
                },
                "1": {
                    "reader_0": {
                        "table": {"name": "breast_hetero_host_2", "namespace": "experiment"}
                    }
                },
            },
        },
    },
}
V2_TABLES = {**TABLES, "experiment.breast_hetero_host_2": "/data/breast_hetero_host_2.csv"}

# FATE 2.x: the DAG, as FATE's pipeline writes it.
DAG_YAML = """
dag:
  parties:
  - party_id: ['9999']
    role: guest
  - party_id: ['10000']
    role: host
  - party_id: ['10001']
    role: arbiter
  party_tasks:
    guest_9999:
      parties:
      - party_id: ['9999']
        role: guest
      tasks:
        reader_0:
          parameters: {name: breast_hetero_guest, namespace: experiment}
    host_10000:
      parties:
      - party_id: ['10000']
        role: host
      tasks:
        reader_0:
          parameters: {name: breast_hetero_host, namespace: experiment}
  stage: train
  tasks:
    reader_0:
      component_ref: reader
      parameters: {}
      stage: default
    psi_0:
      component_ref: psi
      dependent_tasks: [reader_0]
      inputs:
        data:
          input_data:
            task_output_artifact:
              output_artifact_key: output_data
              parties:
              - party_id: ['9999']
                role: guest
              - party_id: ['10000']
                role: host
              producer_task: reader_0
      parameters: {}
      stage: default
    lr_0:
      component_ref: coordinated_lr
      dependent_tasks: [psi_0]
      inputs:
        data:
          train_data:
            task_output_artifact:
              output_artifact_key: output_data
              producer_task: psi_0
      parameters:
        epochs: 10
        batch_size: null
        early_stop: diff
        tol: 0.0001
        threshold: 0.5
        floating_point_precision: 23
        he_param: {kind: paillier, key_length: 1024}
        init_param: {fit_intercept: true, method: random_uniform, random_state: 42}
        learning_rate_scheduler:
          method: linear
          scheduler_params: {start_factor: 1.0}
        optimizer:
          method: rmsprop
          penalty: L2
          alpha: 0.001
          optimizer_params: {lr: 0.21}
    eval_0:
      component_ref: evaluation
      dependent_tasks: [lr_0]
      inputs:
        data:
          input_datas:
            task_output_artifact:
            - output_artifact_key: train_output_data
              parties:
              - party_id: ['9999']
                role: guest
              producer_task: lr_0
      parameters:
        label_column_name: null
        metrics: [auc]
        predict_column_name: null
      parties:
      - party_id: ['9999']
        role: guest
      stage: default
schema_version: 2.1.1
kind: fate
"""


def _dag():
    return yaml.safe_load(DAG_YAML)


# -------------------------------------------------------------------------------- end to end


@pytest.mark.multiprocess
def test_fate_toy_example_runs_end_to_end(tmp_path):
    from atoll.flow.local import run_job
    from atoll.ml.toy_example import make_values

    spec = parse_job(import_fate_job(TOY_DSL, TOY_CONF))
    task = spec.tasks["secure_add_example_0"]
    assert task.component == "toy_example"
    assert task.parameters == {"partition": 10, "data_num": 1000}
    assert task.role_parameters == {"guest": {"seed": 123}, "host": {"seed": 321}}
    result = run_job(spec, tmp_path / "job")
    summary = result.task("guest", "secure_add_example_0")["metrics"]["records"]["summary"]
    expected = math.fsum(np.concatenate([make_values(123, 1000), make_values(321, 1000)]))
    assert summary["sum"] == expected
    assert summary["data_num"] == 1000 and summary["partition"] == 10 and summary["count"] == 2000
    assert json.loads((tmp_path / "job" / "job.json").read_text())["status"] == "success"


# -------------------------------------------------------------------------------- conversions


def test_v1_hetero_lr(caplog):
    caplog.set_level(logging.INFO, logger="atoll.flow.fate")
    conf = copy.deepcopy(V1_CONF)
    conf["algorithm_parameters"]["intersect_0"] = {"intersect_method": "rsa"}  # not in the DSL
    spec = import_fate_job(V1_DSL, conf, tables=TABLES)
    assert spec["parties"] == {"guest": 9999, "host": [10000], "arbiter": 10001}
    assert list(spec["tasks"]) == [
        "args_train_data",
        "intersection_0",
        "hetero_lr_0",
        "evaluation_0",
    ]
    read = spec["tasks"]["args_train_data"]
    assert read["component"] == "reader"
    # DataIO's settings are the reader's; the guest's missing_fill becomes 'fill'
    assert "parameters" not in read
    assert read["role_parameters"] == {
        "guest": {
            "path": TABLES["experiment.breast_hetero_guest"],
            "label_column": "y",
            "missing": "fill",
            "fill_value": 0.0,
        },
        "host": {"path": TABLES["experiment.breast_hetero_host"], "label_column": None},
    }
    psi = spec["tasks"]["intersection_0"]
    assert psi == {
        "component": "psi",
        "inputs": {"data": "args_train_data.data"},
        "parameters": {"protocol": "rsa"},
    }
    lr = spec["tasks"]["hetero_lr_0"]
    assert lr["component"] == "coordinated_lr"
    assert lr["inputs"] == {"train_data": "intersection_0.data"}
    assert lr["parameters"] == {
        "penalty": "l2",
        "optimizer": "rmsprop",
        "tol": 0.0001,
        "alpha": 0.01,
        "epochs": 30,
        "early_stop": "diff",
        "batch_size": -1,
        "learning_rate": 0.15,
        "init": "zeros",
        "scheme": "paillier",
        "key_bits": 1024,
    }
    ev = spec["tasks"]["evaluation_0"]
    assert ev == {"component": "evaluation", "inputs": {"data": "hetero_lr_0.train_output_data"}}
    plans = plan_job(parse_job(spec))
    assert [t.name for t in plans[Party("arbiter", 10001)].tasks] == ["hetero_lr_0"]
    assert [t.name for t in plans[Party("guest", 9999)].tasks] == list(spec["tasks"])
    # what was ignored is said so, once
    text = caplog.text
    assert "sqn_param" in text and "cv_param" in text
    assert "task 'dataio_0' (DataIO), parameter 'label_type'" in text
    assert "'initiator' ignored" in text and "parameters of intersect_0 ignored" in text


def test_v1_train_and_predict_in_one_job():
    """A second DataIO takes the first one's model (its settings); the LR predicts with a model."""
    dsl = copy.deepcopy(V1_DSL)
    comps = dsl["components"]
    comps["dataio_1"] = {
        "module": "DataIO",
        "input": {"data": {"data": ["args.eval_data"]}, "model": ["dataio_0.dataio"]},
        "output": {"data": ["eval"]},
    }
    comps["intersection_1"] = {
        "module": "Intersection",
        "input": {"data": {"data": ["dataio_1.eval"]}},
        "output": {"data": ["eval"]},
    }
    comps["hetero_lr_1"] = {
        "module": "HeteroLR",
        "input": {
            "data": {"test_data": ["intersection_1.eval"]},
            "model": ["hetero_lr_0.hetero_lr"],
        },
        "output": {"data": ["predict"]},
    }
    comps["evaluation_0"]["input"]["data"]["data"].append("hetero_lr_1.predict")
    conf = copy.deepcopy(V1_CONF)
    for role, name in (("guest", "breast_hetero_guest"), ("host", "breast_hetero_host")):
        conf["role_parameters"][role]["args"]["data"]["eval_data"] = [
            {"name": name + "_test", "namespace": "experiment"}
        ]
    tables = {
        **TABLES,
        "experiment.breast_hetero_guest_test": "/data/g_test.csv",
        "experiment.breast_hetero_host_test": "/data/h_test.csv",
    }
    spec = import_fate_job(dsl, conf, tables=tables)
    tasks = spec["tasks"]
    test_read = tasks["args_eval_data"]
    # dataio_1 has no settings of its own: it takes dataio_0's (the guest's label column)
    assert test_read["role_parameters"]["guest"]["label_column"] == "y"
    assert test_read["role_parameters"]["guest"]["path"] == "/data/g_test.csv"
    assert tasks["hetero_lr_1"]["inputs"] == {
        "test_data": "intersection_1.data",
        "input_model": "hetero_lr_0.output_model",
    }
    assert tasks["evaluation_0"]["inputs"] == {
        "data": "hetero_lr_0.train_output_data",
        "validate_data": "hetero_lr_1.test_output_data",
    }
    names = list(tasks)
    assert names.index("hetero_lr_0") < names.index("hetero_lr_1") < names.index("evaluation_0")


def test_v2_reader_data_transform_feature_scale_warm_start():
    spec = import_fate_job(V2_DSL, V2_CONF, tables=V2_TABLES)
    tasks = spec["tasks"]
    assert spec["parties"] == {"guest": 9999, "host": [10000, 10002], "arbiter": 10000}
    # data_transform_0 is folded into reader_0, and its readers point at the table files
    assert "data_transform_0" not in tasks
    read = tasks["reader_0"]
    assert read["role_parameters"]["guest"] == {
        "path": "/data/breast_hetero_guest.csv",
        "label_column": "y",
    }
    assert read["role_parameters"]["host"] == {"label_column": None}
    assert read["party_parameters"] == {
        10000: {"path": "/data/breast_hetero_host.csv"},
        10002: {"path": "/data/breast_hetero_host_2.csv"},
    }
    assert tasks["intersection_0"]["inputs"] == {"data": "reader_0.data"}
    assert tasks["intersection_0"]["parameters"] == {"protocol": "rsa", "rsa_key_bits": 2048}
    assert tasks["feature_scale_0"]["parameters"] == {"method": "min_max"}
    assert tasks["feature_scale_0"]["inputs"] == {"train_data": "intersection_0.data"}
    lr0, lr1 = tasks["hetero_lr_0"], tasks["hetero_lr_1"]
    assert lr0["inputs"] == {"train_data": "feature_scale_0.train_data"}
    assert lr0["parameters"]["optimizer"] == "nesterov_momentum"
    assert lr0["parameters"]["early_stop"] == "weight_diff"
    assert lr0["parameters"]["epochs"] == 5 and lr0["parameters"]["fit_intercept"] is True
    # warm start: train_data plus the first model
    assert lr1["inputs"] == {
        "train_data": "feature_scale_0.train_data",
        "input_model": "hetero_lr_0.output_model",
    }
    assert lr1["parameters"]["penalty"] == "l1"
    assert tasks["evaluation_0"]["inputs"] == {
        "data": "hetero_lr_0.train_output_data",
        "validate_data": "hetero_lr_1.train_output_data",
    }
    plans = plan_job(parse_job(spec))
    host2 = plans[Party("host", 10002)]
    assert host2.tasks[0].params["path"] == "/data/breast_hetero_host_2.csv"
    assert host2.tasks[0].params["label_column"] is None
    assert plans[Party("guest", 9999)].tasks[0].params["label_column"] == "y"


def test_early_v2_conf_with_indexed_role_parameters():
    """FATE 1.5's first v2 confs: role_parameters keyed by party index, plus algorithm_parameters."""
    conf = {
        "initiator": {"role": "guest", "party_id": 9999},
        "role": {"guest": [9999], "host": [10000], "arbiter": [10000]},
        "job_parameters": {"job_type": "train", "work_mode": 0, "dsl_version": 2},
        "role_parameters": {
            "host": {
                "0": {
                    "dataio_0": {"with_label": False},
                    "reader_0": {
                        "table": {"name": "breast_hetero_host", "namespace": "experiment"}
                    },
                }
            },
            "guest": {
                "0": {
                    "dataio_0": {"with_label": True},
                    "reader_0": {
                        "table": {"name": "breast_hetero_guest", "namespace": "experiment"}
                    },
                }
            },
        },
        "algorithm_parameters": {
            "dataio_0": {"output_format": "dense"},
            "hetero_lr_0": {
                "max_iter": 7,
                "optimizer": "adam",
                "encrypt_param": {"key_length": 1024},
            },
        },
    }
    dsl = {
        "components": {
            "reader_0": {"module": "Reader", "output": {"data": ["data"]}},
            "dataio_0": {
                "module": "DataIO",
                "input": {"data": {"data": ["reader_0.data"]}},
                "output": {"data": ["data"], "model": ["model"]},
            },
            "intersection_0": {
                "module": "Intersection",
                "input": {"data": {"data": ["dataio_0.data"]}},
                "output": {"data": ["data"]},
            },
            "hetero_lr_0": {
                "module": "HeteroLR",
                "input": {"data": {"train_data": ["intersection_0.data"]}},
                "output": {"data": ["data"], "model": ["model"]},
            },
        }
    }
    spec = import_fate_job(dsl, conf, tables=TABLES)
    assert spec["tasks"]["reader_0"]["role_parameters"]["guest"]["label_column"] == "y"
    assert spec["tasks"]["hetero_lr_0"]["parameters"] == {
        "epochs": 7,
        "optimizer": "adam",
        "key_bits": 1024,
    }


def test_fate2_dag():
    spec = import_fate_job(_dag(), tables=TABLES)
    tasks = spec["tasks"]
    assert list(tasks) == ["reader_0", "psi_0", "lr_0", "eval_0"]
    assert spec["parties"] == {"guest": 9999, "host": [10000], "arbiter": 10001}
    assert tasks["reader_0"]["parameters"] == {"label_column": "auto"}
    assert tasks["reader_0"]["role_parameters"] == {
        "guest": {"path": "/data/breast_hetero_guest.csv"},
        "host": {"path": "/data/breast_hetero_host.csv"},
    }
    assert tasks["psi_0"] == {"component": "psi", "inputs": {"data": "reader_0.data"}}
    lr = tasks["lr_0"]
    assert lr["component"] == "coordinated_lr"
    assert lr["inputs"] == {"train_data": "psi_0.data"}
    assert lr["parameters"] == {
        "epochs": 10,
        "early_stop": "diff",
        "tol": 0.0001,
        "threshold": 0.5,
        "scheme": "paillier",
        "key_bits": 1024,
        "fit_intercept": True,
        "init": "random_uniform",
        "seed": 42,
        "optimizer": "rmsprop",
        "penalty": "l2",
        "alpha": 0.001,
        "learning_rate": 0.21,
    }
    assert tasks["eval_0"] == {
        "component": "evaluation",
        "inputs": {"data": "lr_0.train_output_data"},
    }
    parse_job(spec)


def test_fate2_sshe_lr_and_toy_example():
    dag = {
        "dag": {
            "parties": [
                {"role": "guest", "party_id": ["9999"]},
                {"role": "host", "party_id": ["10000"]},
            ],
            "tasks": {
                "toy_example_0": {
                    "component_ref": "toy_example",
                    "parameters": {"data_num": 100, "partition": 2},
                },
                "reader_0": {
                    "component_ref": "reader",
                    "parameters": {"name": "breast_hetero_guest", "namespace": "experiment"},
                },
                "sshe_lr_0": {
                    "component_ref": "sshe_lr",
                    "inputs": {
                        "data": {
                            "train_data": {
                                "task_output_artifact": {
                                    "producer_task": "reader_0",
                                    "output_artifact_key": "output_data",
                                }
                            }
                        }
                    },
                    "parameters": {"epochs": 3, "learning_rate": 0.05, "reveal_every_epoch": False},
                },
            },
        }
    }
    spec = import_fate_job(dag, tables=TABLES)
    sshe = spec["tasks"]["sshe_lr_0"]
    assert sshe["component"] == "sshe_lr"
    # FATE 2.x's SSHE-LR has no penalty: the converted job has none either
    assert sshe["parameters"] == {
        "penalty": None,
        "epochs": 3,
        "learning_rate": 0.05,
        "reveal_every_epoch": False,
    }
    assert spec["tasks"]["toy_example_0"]["parameters"] == {"data_num": 100, "partition": 2}


def test_load_fate_job_reads_json_and_yaml_files(tmp_path):
    (tmp_path / "toy_dsl.json").write_text(json.dumps(TOY_DSL))
    (tmp_path / "toy_conf.json").write_text(json.dumps(TOY_CONF))
    spec = load_fate_job(tmp_path / "toy_dsl.json", tmp_path / "toy_conf.json")
    assert spec["name"] == "toy_dsl" and spec["base_dir"] == str(tmp_path.resolve())
    (tmp_path / "lr.yaml").write_text(DAG_YAML)
    (tmp_path / "data").mkdir()
    spec = load_fate_job(
        tmp_path / "lr.yaml",
        tables={
            "experiment.breast_hetero_guest": "data/g.csv",
            "experiment.breast_hetero_host": "data/h.csv",
        },
    )
    plans = plan_job(parse_job(spec))
    assert plans[Party("guest", 9999)].tasks[0].params["path"] == str(tmp_path / "data" / "g.csv")


# -------------------------------------------------------------------------------- refusals


def _v1(**changes):
    conf = copy.deepcopy(V1_CONF)
    for task, params in changes.items():
        conf["algorithm_parameters"].setdefault(task, {}).update(params)
    return conf


@pytest.mark.parametrize(
    ("dsl", "conf", "needles"),
    [
        (
            {"components": {"x_0": {"module": "HeteroSecureBoost"}}},
            TOY_CONF,
            ["'HeteroSecureBoost' is not supported", "HeteroLR", "Intersection", "DataIO"],
        ),
        (
            V1_DSL,
            _v1(hetero_lr_0={"max_itr": 3}),
            ["hetero_lr_0", "HeteroLR", "'max_itr'", "supported:", "max_iter"],
        ),
        (
            V1_DSL,
            _v1(hetero_lr_0={"optimizer": "sqn"}),
            ["hetero_lr_0", "HeteroLR", "'optimizer'", "quasi-Newton"],
        ),
        (
            V1_DSL,
            _v1(hetero_lr_0={"init_param": {"init_method": "xavier"}}),
            ["'init_param.init_method'", "'xavier'", "random_uniform"],
        ),
        (
            V1_DSL,
            _v1(hetero_lr_0={"cv_param": {"need_cv": True}}),
            ["'cv_param.need_cv'", "False"],
        ),
        (
            V1_DSL,
            _v1(intersection_0={"intersect_method": "raw"}),
            ["intersection_0", "Intersection", "'intersect_method'", "'raw' is refused", "ids"],
        ),
        (
            V1_DSL,
            _v1(intersection_0={"cardinality_only": True}),
            ["'cardinality_only'", "only False"],
        ),
        (
            V1_DSL,
            _v1(dataio_0={"missing_fill_method": "mean", "missing_fill": True}),
            ["dataio_0", "DataIO", "'missing_fill_method'", "'mean'"],
        ),
        (
            V1_DSL,
            _v1(dataio_0={"input_format": "sparse"}),
            ["dataio_0", "'input_format'", "'dense'"],
        ),
    ],
)
def test_refusals_name_the_module_and_parameter(dsl, conf, needles):
    with pytest.raises(FateImportError) as err:
        import_fate_job(dsl, conf, tables=TABLES)
    for needle in needles:
        assert needle in str(err.value), (needle, str(err.value))


def test_unmapped_tables_are_read_from_the_sites_uploaded_tables():
    """A table tables= does not map becomes the reader's ``table``; a mapped one its ``path``."""
    spec = import_fate_job(V1_DSL, V1_CONF, tables={"experiment.breast_hetero_guest": "g.csv"})
    read = spec["tasks"]["args_train_data"]["role_parameters"]
    assert read["guest"]["path"] == "g.csv" and "table" not in read["guest"]
    assert read["host"] == {"table": "experiment.breast_hetero_host", "label_column": None}
    # no mapping at all: every party reads its uploaded table; the DataIO settings stay
    spec = import_fate_job(V1_DSL, V1_CONF)
    read = spec["tasks"]["args_train_data"]["role_parameters"]
    assert read["guest"]["table"] == "experiment.breast_hetero_guest"
    assert read["guest"]["label_column"] == "y" and "path" not in read["guest"]
    plans = plan_job(parse_job(spec))
    assert plans[Party("host", 10000)].tasks[0].params["table"] == "experiment.breast_hetero_host"
    # FATE 2.x: no label_column 'auto' with a table (the table's registered label is used)
    spec = import_fate_job(_dag())
    reader = spec["tasks"]["reader_0"]
    assert "label_column" not in reader.get("parameters", {})
    assert reader["role_parameters"] == {
        "guest": {"table": "experiment.breast_hetero_guest"},
        "host": {"table": "experiment.breast_hetero_host"},
    }
    parse_job(spec)
    # DSL v2 Reader components too
    spec = import_fate_job(V2_DSL, V2_CONF)
    reader = spec["tasks"]["reader_0"]
    assert reader["role_parameters"]["guest"]["table"] == "experiment.breast_hetero_guest"
    assert reader["party_parameters"] == {
        10000: {"table": "experiment.breast_hetero_host"},
        10002: {"table": "experiment.breast_hetero_host_2"},
    }
    plans = plan_job(parse_job(spec))
    assert plans[Party("host", 10002)].tasks[0].params["table"] == "experiment.breast_hetero_host_2"


def test_a_table_without_namespace_needs_a_mapping():
    dag = _dag()
    for party in dag["dag"]["party_tasks"].values():
        for task in party.get("tasks", {}).values():
            params = task.get("parameters", {})
            params.pop("namespace", None)
    with pytest.raises(FateImportError, match=r"reader_0.*has no namespace.*tables="):
        import_fate_job(dag, tables={})
    spec = import_fate_job(
        dag, tables={"breast_hetero_guest": "g.csv", "breast_hetero_host": "h.csv"}
    )
    assert spec["tasks"]["reader_0"]["role_parameters"]["guest"] == {"path": "g.csv"}


def test_dag_refusals():
    dag = _dag()
    dag["dag"]["tasks"]["lr_0"]["parameters"]["optimizer"]["method"] = "lbfgs"
    with pytest.raises(
        FateImportError, match=r"lr_0.*coordinated_lr.*'optimizer\.method'.*'lbfgs'"
    ):
        import_fate_job(dag, tables=TABLES)
    dag = _dag()
    dag["dag"]["tasks"]["lr_0"]["component_ref"] = "hetero_secureboost"
    with pytest.raises(
        FateImportError, match=r"'hetero_secureboost' is not supported.*coordinated_lr"
    ):
        import_fate_job(dag, tables=TABLES)
    dag = _dag()
    dag["dag"]["tasks"]["lr_0"]["inputs"]["model"] = {
        "input_model": {"model_warehouse": {"model_id": "1", "model_version": "0"}}
    }
    with pytest.raises(
        FateImportError, match=r"model_warehouse.*not FATE's model or data warehouse"
    ):
        import_fate_job(dag, tables=TABLES)
    dag = _dag()
    sched = dag["dag"]["tasks"]["lr_0"]["parameters"]["learning_rate_scheduler"]
    sched["scheduler_params"] = {"start_factor": 0.5}
    with pytest.raises(FateImportError, match="learning_rate_scheduler"):
        import_fate_job(dag, tables=TABLES)
    dag = _dag()
    dag["dag"]["tasks"]["psi_0"]["parameters"] = {"protocol": "raw"}
    with pytest.raises(FateImportError, match=r"psi_0.*'protocol'.*'raw'.*ecdh"):
        import_fate_job(dag, tables=TABLES)


def test_the_failing_validation_names_the_task():
    """A value that passes translation but not Atoll's own checks still fails here."""
    with pytest.raises(FateImportError, match=r"hetero_lr_0.*key_bits"):
        import_fate_job(
            V1_DSL, _v1(hetero_lr_0={"encrypt_param": {"key_length": 512}}), tables=TABLES
        )


@pytest.mark.parametrize(
    ("module", "fate", "atoll"),
    [
        (
            "HeteroSSHELR",
            {
                "penalty": "L2",
                "alpha": 0.1,
                "optimizer": "sgd",
                "max_iter": 4,
                "decay": 0.5,
                "decay_sqrt": False,
                "reveal_every_iter": True,
                "compute_loss": False,
                "init_param": {"init_method": "random_uniform", "random_seed": 3},
                "encrypt_param": {"key_length": 2048},
                "use_mix_rand": True,
                "predict_param": {"threshold": 0.4},
            },
            {
                "penalty": "l2",
                "alpha": 0.1,
                "optimizer": "sgd",
                "epochs": 4,
                "decay": 0.5,
                "reveal_every_epoch": True,
                "reveal_loss_freq": 0,
                "init": "random_uniform",
                "seed": 3,
                "key_bits": 2048,
                "threshold": 0.4,
            },
        ),
        (
            "HeteroLR",
            {
                "init_param": {"init_method": "ones"},
                "decay": 1,
                "decay_sqrt": True,
                "shuffle": False,
            },
            {"init": "const", "init_const": 1.0, "decay": 1, "decay_sqrt": True, "shuffle": False},
        ),
        (
            "Intersection",
            {"intersect_method": "ecdh", "ecdh_params": {"curve": "curve25519"}},
            {"protocol": "ecdh"},
        ),
        (
            "FeatureScale",
            {"method": "standard_scale", "scale_names": ["x0", "x1"], "scale_col_indexes": []},
            {"method": "standard", "columns": ["x0", "x1"]},
        ),
        ("Evaluation", {"eval_type": "binary", "metrics": ["auc", "ks"]}, {}),
        (
            "SecureAddExample",
            {"seed": 1, "partition": 2, "data_num": 3},
            {"seed": 1, "partition": 2, "data_num": 3},
        ),
    ],
)
def test_v1_parameter_translations(module, fate, atoll):
    dsl = {"components": {"x_0": {"module": module}}}
    conf = {"role": {"guest": [9999], "host": [10000]}, "algorithm_parameters": {"x_0": fate}}
    spec = import_fate_job(dsl, conf, validate=False)
    assert spec["tasks"]["x_0"].get("parameters", {}) == atoll


def test_sshe_decay_sqrt_with_decay_is_refused():
    dsl = {"components": {"x_0": {"module": "HeteroSSHELR"}}}
    conf = {
        "role": {"guest": [9999], "host": [10000]},
        "algorithm_parameters": {"x_0": {"decay": 1.0, "decay_sqrt": True}},
    }
    with pytest.raises(FateImportError, match=r"x_0.*HeteroSSHELR.*'decay_sqrt'"):
        import_fate_job(dsl, conf, validate=False)


def test_a_reference_to_an_undeclared_output_is_named():
    dsl = copy.deepcopy(V1_DSL)
    dsl["components"]["hetero_lr_0"]["input"]["data"]["train_data"] = ["intersection_0.tain"]
    with pytest.raises(FateImportError, match=r"hetero_lr_0.*intersection_0\.tain.*outputs: train"):
        import_fate_job(dsl, V1_CONF, tables=TABLES)
