import torch
from core import DataLoader, OneHiddenLayer

import mlxp


def seeding_function(seed):
    import torch

    torch.manual_seed(seed)


def evaluate(model, loader):
    with torch.no_grad():
        errors = [torch.mean((model(x) - y) ** 2) for x, y in loader]
    return torch.stack(errors).mean()


@mlxp.launch(config_path="./configs", seeding_function=seeding_function)
def train(ctx: mlxp.Context) -> None:
    cfg = ctx.config
    logger = ctx.logger

    model = OneHiddenLayer(d_int=cfg.data.d_int, n_units=cfg.model.num_units).to(cfg.data.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.optimizer.lr)
    train_loader = DataLoader(cfg.data.d_int, n_samples=256, batch_size=64, device=cfg.data.device)
    test_loader = DataLoader(cfg.data.d_int, n_samples=128, batch_size=64, device=cfg.data.device)

    # resume: a requeued or re-run job (+mlxp.logger.forced_log_id=N) continues from its checkpoint
    start_epoch = 0
    try:
        checkpoint = logger.load_checkpoint(log_name="last_ckpt")
        model = checkpoint["model"]
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.optimizer.lr)
        start_epoch = checkpoint["epoch"] + 1
    except FileNotFoundError:
        pass

    for epoch in range(start_epoch, cfg.num_epoch):
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = torch.mean((model(x) - y) ** 2)
            loss.backward()
            optimizer.step()
        train_err = evaluate(model, train_loader)
        test_err = evaluate(model, test_loader)
        logger.log_metrics({"loss": train_err.item(), "epoch": epoch}, log_name="train")
        logger.log_metrics({"loss": test_err.item(), "epoch": epoch}, log_name="test")
        logger.log_checkpoint({"model": model, "epoch": epoch}, log_name="last_ckpt")

    print(f"Completed training with learning rate: {cfg.optimizer.lr}")


if __name__ == "__main__":
    train()
