/// A validation metric watched after every epoch (early stopping, `reduce_on_plateau`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Monitor {
    ValLoss,
    ValAccuracy,
}

impl Monitor {
    pub fn from_name(name: &str) -> Option<Monitor> {
        match name {
            "val_loss" => Some(Monitor::ValLoss),
            "val_accuracy" => Some(Monitor::ValAccuracy),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Monitor::ValLoss => "val_loss",
            Monitor::ValAccuracy => "val_accuracy",
        }
    }

    /// Whether larger values are better.
    pub fn maximize(self) -> bool {
        match self {
            Monitor::ValLoss => false,
            Monitor::ValAccuracy => true,
        }
    }
}
