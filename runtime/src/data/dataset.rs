//! `Dataset`: a feature matrix, what each row should predict, and names for both.

use std::ops::Range;

use ndarray::{s, Array2, ArrayView2, Axis};

use super::error::DataError;

/// What each sample should predict.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// Class indices `0..n_classes` (for cross-entropy). Some classes may have no sample.
    Classes {
        /// One class index per sample.
        labels: Vec<u32>,
        /// Number of classes; every label is below it.
        n_classes: u32,
    },
    /// Real-valued targets, one row per sample (for mse).
    Real(Array2<f32>),
}

/// A named, contiguous block of feature columns (e.g. `clause_b` of `but_sentiment`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Field name, e.g. `clause_b`.
    pub name: String,
    /// The columns it covers.
    pub columns: Range<usize>,
}

/// A data set held in memory.
///
/// Invariants, checked by [`Dataset::new`] and kept by every method: at least one sample and
/// one feature, all features finite, one target per sample, labels below `n_classes`, the
/// product of `feature_shape` equals the number of columns, and names (when present) match
/// the number of classes and columns.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    origin: String,
    features: Array2<f32>,
    feature_shape: Vec<usize>,
    targets: Targets,
    class_names: Option<Vec<String>>,
    /// The class names are the label strings read from a file (not names a generator or
    /// the spec gave to numbered classes): declared names are then matched to them by name.
    names_are_labels: bool,
    feature_names: Option<Vec<String>>,
    fields: Vec<Field>,
    /// `Some(mask)` when some samples carry no label (true = unlabelled); their entry in
    /// `labels` is 0 and means nothing. Only class targets can be unlabelled.
    unlabelled: Option<Vec<bool>>,
    /// Target columns after the first (a network with several outputs reads one each);
    /// splits and samplers follow the first.
    more_targets: Vec<Targets>,
}

impl Dataset {
    /// Builds a data set from an `n x d` feature matrix (standard layout is enforced) and its
    /// targets. `origin` names it in error messages (a path or e.g. `builtin "digits"`). The
    /// per-sample feature shape starts as `[d]`.
    pub fn new(origin: &str, features: Array2<f32>, targets: Targets) -> Result<Self, DataError> {
        let (n_samples, n_features) = features.dim();
        if n_samples == 0 {
            return Err(empty(origin, "no samples"));
        }
        if n_features == 0 {
            return Err(empty(origin, "no feature columns"));
        }
        if let Some(((row, column), value)) = features.indexed_iter().find(|(_, v)| !v.is_finite())
        {
            return Err(DataError::NonFinite {
                file: origin.to_string(),
                row: row as u64 + 1,
                column: column + 1,
                value: value.to_string(),
            });
        }
        let n_targets = match &targets {
            Targets::Classes { labels, n_classes } => {
                if let Some((row, &label)) =
                    labels.iter().enumerate().find(|(_, &l)| l >= *n_classes)
                {
                    return Err(DataError::LabelOutOfRange {
                        file: origin.to_string(),
                        row: row as u64 + 1,
                        label: label.into(),
                        n_classes: *n_classes,
                    });
                }
                labels.len()
            }
            Targets::Real(values) => {
                if let Some(((row, column), value)) =
                    values.indexed_iter().find(|(_, v)| !v.is_finite())
                {
                    return Err(DataError::NonFinite {
                        file: format!("{origin} (targets)"),
                        row: row as u64 + 1,
                        column: column + 1,
                        value: value.to_string(),
                    });
                }
                values.nrows()
            }
        };
        if n_targets != n_samples {
            return Err(DataError::CountMismatch {
                features_file: origin.to_string(),
                n_features: n_samples,
                labels_file: format!("{origin} (targets)"),
                n_labels: n_targets,
            });
        }
        Ok(Self {
            origin: origin.to_string(),
            features: features.as_standard_layout().into_owned(),
            feature_shape: vec![n_features],
            targets,
            class_names: None,
            names_are_labels: false,
            feature_names: None,
            fields: Vec::new(),
            unlabelled: None,
            more_targets: Vec::new(),
        })
    }

    /// Adds target columns after the first, each with one entry per sample, checked as
    /// [`Dataset::new`] checks the first.
    pub fn with_more_targets(mut self, more: Vec<Targets>) -> Result<Self, DataError> {
        for (k, targets) in more.iter().enumerate() {
            Dataset::new(
                &format!("{} (target column {})", self.origin, k + 1),
                Array2::zeros((self.n_samples(), 1)),
                targets.clone(),
            )?;
        }
        self.more_targets = more;
        Ok(self)
    }

    /// Target column `k`: 0 is [`Self::targets`], then those of [`Self::with_more_targets`].
    pub fn target_column(&self, k: usize) -> Option<&Targets> {
        match k {
            0 => Some(&self.targets),
            _ => self.more_targets.get(k - 1),
        }
    }

    /// Number of target columns (at least 1).
    pub fn n_target_columns(&self) -> usize {
        1 + self.more_targets.len()
    }

    /// Marks the samples where `mask` is true as unlabelled (semi-supervised training: they
    /// train only through terms that need no label, such as a logic rule's teacher). Their
    /// labels are set to 0 so that no code can read the withheld label.
    pub fn with_unlabelled(mut self, mask: Vec<bool>) -> Result<Self, DataError> {
        let Targets::Classes { labels, .. } = &mut self.targets else {
            return Err(DataError::BadParameter {
                context: self.origin.clone(),
                param: "unlabelled samples".to_string(),
                reason: "real-valued targets cannot be withheld".to_string(),
                hint: "Only class labels can be left out.".to_string(),
            });
        };
        if mask.len() != labels.len() {
            return Err(empty(&self.origin, "an unlabelled mask of another length"));
        }
        for (label, &hidden) in labels.iter_mut().zip(&mask) {
            if hidden {
                *label = 0;
            }
        }
        self.unlabelled = mask.iter().any(|&h| h).then_some(mask);
        Ok(self)
    }

    /// Whether sample `i` has a label (always, unless [`Self::with_unlabelled`] said not).
    pub fn is_labelled(&self, i: usize) -> bool {
        self.unlabelled.as_ref().is_none_or(|mask| !mask[i])
    }

    /// Number of samples without a label.
    pub fn n_unlabelled(&self) -> usize {
        self.unlabelled
            .as_ref()
            .map_or(0, |mask| mask.iter().filter(|&&h| h).count())
    }

    /// Sets the per-sample shape (e.g. `[1, 8, 8]`); its product must equal the column count.
    /// Rows are stored flat in row-major order, so this is a free reinterpretation.
    pub fn with_feature_shape(mut self, shape: &[usize]) -> Result<Self, DataError> {
        self.check_input_shape(shape)?;
        self.feature_shape = shape.to_vec();
        Ok(self)
    }

    /// Checks that a network input of `shape` can be fed from these features.
    pub fn check_input_shape(&self, shape: &[usize]) -> Result<(), DataError> {
        let needed = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if shape.is_empty() || needed != Some(self.n_features()) {
            return Err(DataError::ShapeMismatch {
                file: self.origin.clone(),
                n_features: self.n_features(),
                shape: shape.to_vec(),
                needed: needed.unwrap_or(usize::MAX),
            });
        }
        Ok(())
    }

    /// Raises the number of classes (labels must already be below it). Use this when a spec
    /// declares more classes than the data happens to contain.
    pub fn with_n_classes(mut self, n_classes: u32) -> Result<Self, DataError> {
        if let Targets::Classes {
            labels,
            n_classes: current,
        } = &mut self.targets
        {
            if let Some((row, &label)) = labels.iter().enumerate().find(|(_, &l)| l >= n_classes) {
                return Err(DataError::LabelOutOfRange {
                    file: self.origin.clone(),
                    row: row as u64 + 1,
                    label: label.into(),
                    n_classes,
                });
            }
            if self.class_names.is_some() && n_classes != *current {
                return Err(bad_names(&self.origin, "class", n_classes as usize));
            }
            *current = n_classes;
        }
        Ok(self)
    }

    /// Names the classes, in class-index order: class `i` is `names[i]`.
    ///
    /// Labels read as text (see [`Dataset::with_label_names`]) already carry their names:
    /// they are matched to `names` by name (not by position), so `classes: ["pos", "neg"]`
    /// makes `pos` class 0 whatever order the file lists them in, and a label that is not
    /// among `names` is an error. Numeric labels, and classes a generator named, are renamed
    /// by position: class `i` becomes `names[i]`. Either way the data then has `names.len()`
    /// classes.
    pub fn with_class_names(self, names: Vec<String>) -> Result<Self, DataError> {
        let text = self.names_are_labels;
        self.name_classes(names, text)
    }

    /// Names the classes after the label strings a file spelled them with (class `i` was read
    /// as `names[i]`), so that names declared later are matched to them by name.
    pub fn with_label_names(self, names: Vec<String>) -> Result<Self, DataError> {
        let mut out = self.name_classes(names, false)?;
        out.names_are_labels = true;
        Ok(out)
    }

    fn name_classes(mut self, names: Vec<String>, by_name: bool) -> Result<Self, DataError> {
        let Targets::Classes { labels, n_classes } = &mut self.targets else {
            return Err(DataError::BadParameter {
                context: self.origin.clone(),
                param: "classes".to_string(),
                reason: "the targets are real values, not classes".to_string(),
                hint: "Remove `classes` from the data block, or use class labels.".to_string(),
            });
        };
        match self.class_names.as_ref().filter(|_| by_name) {
            Some(read) => {
                let index: Vec<Option<u32>> = read
                    .iter()
                    .map(|r| names.iter().position(|n| n == r).map(|i| i as u32))
                    .collect();
                if let Some(missing) = read.iter().zip(&index).find(|(_, i)| i.is_none()) {
                    return Err(DataError::UndeclaredClass {
                        file: self.origin.clone(),
                        label: missing.0.clone(),
                        declared: names.join(", "),
                    });
                }
                for label in labels.iter_mut() {
                    // Every text label has its name in `read`, and every name was found.
                    *label = index[*label as usize].unwrap_or(*label);
                }
            }
            None => {
                if let Some((row, &label)) = labels
                    .iter()
                    .enumerate()
                    .find(|(_, &l)| l as usize >= names.len())
                {
                    return Err(DataError::LabelOutOfRange {
                        file: self.origin.clone(),
                        row: row as u64 + 1,
                        label: label.into(),
                        n_classes: names.len() as u32,
                    });
                }
            }
        }
        *n_classes = names.len() as u32;
        self.class_names = Some(names);
        Ok(self)
    }

    /// Names the feature columns, in column order.
    pub fn with_feature_names(mut self, names: Vec<String>) -> Result<Self, DataError> {
        if names.len() != self.n_features() {
            return Err(bad_names(&self.origin, "feature", names.len()));
        }
        self.feature_names = Some(names);
        Ok(self)
    }

    /// Names a contiguous block of columns so it can be read on its own (see [`Self::field`]).
    pub fn with_field(mut self, name: &str, columns: Range<usize>) -> Result<Self, DataError> {
        if columns.is_empty() || columns.end > self.n_features() {
            return Err(DataError::BadParameter {
                context: self.origin.clone(),
                param: name.to_string(),
                reason: format!(
                    "columns {columns:?} are not inside 0..{}",
                    self.n_features()
                ),
                hint: "A field is a non-empty range of existing columns.".to_string(),
            });
        }
        self.fields.retain(|field| field.name != name);
        self.fields.push(Field {
            name: name.to_string(),
            columns,
        });
        Ok(self)
    }

    /// Where the data came from (a path, or e.g. `builtin "digits"`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The `n x d` feature matrix, row-major.
    pub fn features(&self) -> &Array2<f32> {
        &self.features
    }

    /// Mutable features, for in-place scaling. Callers must keep the values finite.
    pub(crate) fn features_mut(&mut self) -> &mut Array2<f32> {
        &mut self.features
    }

    /// The shape of one sample; its product is [`Self::n_features`].
    pub fn feature_shape(&self) -> &[usize] {
        &self.feature_shape
    }

    /// What each sample should predict.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// Class labels, or `None` for real-valued targets.
    pub fn labels(&self) -> Option<&[u32]> {
        match &self.targets {
            Targets::Classes { labels, .. } => Some(labels),
            Targets::Real(_) => None,
        }
    }

    /// Number of classes; 0 for real-valued targets.
    pub fn n_classes(&self) -> u32 {
        match &self.targets {
            Targets::Classes { n_classes, .. } => *n_classes,
            Targets::Real(_) => 0,
        }
    }

    /// Labelled samples per class, indexed by class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes() as usize];
        for (i, &label) in self.labels().unwrap_or_default().iter().enumerate() {
            if self.is_labelled(i) {
                counts[label as usize] += 1;
            }
        }
        counts
    }

    /// Number of samples (rows).
    pub fn n_samples(&self) -> usize {
        self.features.nrows()
    }

    /// Number of features per sample (columns).
    pub fn n_features(&self) -> usize {
        self.features.ncols()
    }

    /// Class names in class-index order, if known (text labels, generators).
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    /// Feature names in column order, if known (CSV header, generators).
    pub fn feature_names(&self) -> Option<&[String]> {
        self.feature_names.as_deref()
    }

    /// Column of the feature called `name`, if features are named.
    pub fn feature_index(&self, name: &str) -> Option<usize> {
        self.feature_names.as_ref()?.iter().position(|n| n == name)
    }

    /// The named column blocks.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The columns of field `name`, as an `n x width` view.
    pub fn field(&self, name: &str) -> Option<ArrayView2<'_, f32>> {
        let field = self.fields.iter().find(|field| field.name == name)?;
        Some(self.features.slice(s![.., field.columns.clone()]))
    }

    /// The features with every column outside field `name` set to zero: the field "on its
    /// own" at the network's full input width (as `predict(field("clause_b"))` needs).
    pub fn isolate_field(&self, name: &str) -> Option<Array2<f32>> {
        let field = self.fields.iter().find(|field| field.name == name)?;
        let mut res = Array2::zeros(self.features.raw_dim());
        res.slice_mut(s![.., field.columns.clone()])
            .assign(&self.features.slice(s![.., field.columns.clone()]));
        Some(res)
    }

    /// The samples at `indices`, in that order (indices may repeat). Names, shape and fields
    /// are kept; `n_classes` is kept even if a class has no sample left.
    ///
    /// # Panics
    /// If an index is out of bounds: indices come from this crate's split/shuffle helpers.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let select = |targets: &Targets| match targets {
            Targets::Classes { labels, n_classes } => Targets::Classes {
                labels: indices.iter().map(|&i| labels[i]).collect(),
                n_classes: *n_classes,
            },
            Targets::Real(values) => Targets::Real(values.select(Axis(0), indices)),
        };
        let targets = select(&self.targets);
        Dataset {
            more_targets: self.more_targets.iter().map(select).collect(),
            origin: self.origin.clone(),
            features: self.features.select(Axis(0), indices),
            feature_shape: self.feature_shape.clone(),
            targets,
            class_names: self.class_names.clone(),
            names_are_labels: self.names_are_labels,
            feature_names: self.feature_names.clone(),
            fields: self.fields.clone(),
            unlabelled: self
                .unlabelled
                .as_ref()
                .map(|mask| indices.iter().map(|&i| mask[i]).collect::<Vec<_>>())
                .filter(|mask| mask.contains(&true)),
        }
    }

    /// A data set with other rows and class labels (e.g. k-means centroids) but the same
    /// origin, names, per-sample shape, fields and number of classes, and no further target
    /// columns (a centroid has no second label). Errors as
    /// [`Dataset::new`] on empty or non-finite rows, a width other than this set's, or a
    /// label out of range.
    pub fn with_rows(&self, features: Array2<f32>, labels: Vec<u32>) -> Result<Dataset, DataError> {
        if features.ncols() != self.n_features() {
            return Err(empty(&self.origin, "rows of another width"));
        }
        let n_classes = self.n_classes();
        let mut out = Dataset::new(
            &self.origin,
            features,
            Targets::Classes { labels, n_classes },
        )?;
        out.feature_shape = self.feature_shape.clone();
        out.class_names = self.class_names.clone();
        out.names_are_labels = self.names_are_labels;
        out.feature_names = self.feature_names.clone();
        out.fields = self.fields.clone();
        Ok(out)
    }

    /// The name of class `class` for messages: its name if known, else the index.
    pub(crate) fn class_label(&self, class: usize) -> String {
        match &self.class_names {
            Some(names) => format!("{class} (`{}`)", names[class]),
            None => class.to_string(),
        }
    }
}

fn empty(origin: &str, what: &str) -> DataError {
    DataError::Empty {
        file: origin.to_string(),
        what: what.to_string(),
    }
}

fn bad_names(origin: &str, kind: &str, got: usize) -> DataError {
    DataError::BadParameter {
        context: origin.to_string(),
        param: format!("{kind} names"),
        reason: format!("{got} names given"),
        hint: format!("Give exactly one name per {kind}."),
    }
}
