"""Knowledge distillation: student construction, losses, data, training loop, evaluation."""
