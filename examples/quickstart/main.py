"""The tutorial's API with no dependency beyond mlxp-core: gradient descent on a quadratic.

    python main.py                          # one run in logs/1
    python main.py optimizer.lr=0.01,0.1    # a sweep: one run directory per value
"""

import random

import mlxp


def seeding_function(seed):
    random.seed(seed)


@mlxp.launch(config_path="./configs", seeding_function=seeding_function)
def train(ctx: mlxp.Context) -> None:
    cfg = ctx.config
    logger = ctx.logger

    # resume from the last checkpoint when the run is resumed (+mlxp.logger.forced_log_id=N)
    try:
        state = logger.load_checkpoint(log_name="last_ckpt")
    except FileNotFoundError:
        width = cfg.model.num_units
        state = {"weights": [random.uniform(-1, 1) for _ in range(width)], "epoch": -1}

    for epoch in range(state["epoch"] + 1, cfg.num_epoch):
        weights = [w - cfg.optimizer.lr * 2 * w for w in state["weights"]]
        train_loss = sum(w * w for w in weights) / len(weights)
        test_loss = train_loss * (1 + random.uniform(0, 0.1))
        state = {"weights": weights, "epoch": epoch}
        logger.log_metrics({"loss": train_loss, "epoch": epoch}, log_name="train")
        logger.log_metrics({"loss": test_loss, "epoch": epoch}, log_name="test")
        logger.log_checkpoint(state, log_name="last_ckpt")

    print(f"Completed training with learning rate: {cfg.optimizer.lr}")


if __name__ == "__main__":
    train()
