namespace Xcos.TestUtilities;

/// <summary>Config files in the original xCos schema, for the config parser's tests and the CLI's.</summary>
public static class OriginalConfigText
{
    /// <summary>The original's src/configs/xcos_train_config.json layout, as its trainer reads it (DATA and BINS are placeholders).</summary>
    public const string Train = """
    {
        "n_gpu": 1,
        "optimizers": { "default": { "type": "Adam", "args": { "lr": 0.001, "weight_decay": 0, "amsgrad": true } } },
        "lr_schedulers": { "default": { "type": "StepLR", "args": { "step_size": 5, "gamma": 0.9 } } },
        "trainer": { "epochs": 100, "save_dir": "saved/", "save_freq": 1, "monitor": "valid_seen_loss",
                     "monitored_metric": "avg_loss", "monitor_mode": "min", "monitored_loader": "lfw" },
        "trainer_args": {},
        "visualization": { "tensorboardX": true, "log_dir": "saved/runs" },
        "arch": { "type": "xCosModel", "args": { "class_num": 10572 } },
        "data_loader": { "type": "FaceDataLoader", "args": { "data_dir": "DATA", "batch_size": 48, "validation_split": 0, "num_workers": 6, "name": "casia" } },
        "validation_strategy": "bypass_loss_calculation",
        "valid_data_loaders": { "1": { "type": "FaceBinDataLoader", "args": { "data_dir": "BINS", "batch_size": 256, "shuffle": false,
                                "validation_split": 0.0, "num_workers": 4, "name": "lfw" } } },
        "losses": {
            "0": { "type": "SiameseCrossEntropyLoss", "args": { "output_key": "thetas", "target_key": "targeted_id_labels", "nickname": "CrossEntropy", "weight": 1 } },
            "1": { "type": "SiameseMSELoss", "args": { "output_key": "x_coses", "target_key": "targeted_cos", "nickname": "MSE", "weight": 2 } }
        },
        "metrics": { "0": { "type": "VerificationMetric", "args": { "nickname": "verificationMetric", "output_key": "x_coses", "target_key": "is_same_labels" } } },
        "log_step": 1,
        "verbosity": 2,
        "name": "xcos_train_config"
    }
    """;
}
