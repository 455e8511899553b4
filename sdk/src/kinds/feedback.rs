//! Trial feedback: scores, NPS, summaries and at-risk customers.

use std::marker::PhantomData;

use crate::bindings::feedback::exports::mercato::sales::feedback::Guest;
pub use crate::bindings::feedback::exports::mercato::sales::feedback::{
    AtRiskCustomer, FeatureAverage, FeatureRating, Feedback, FeedbackDraft, FeedbackFilter,
    ProductSummary, RiskRule, WeekTrend,
};
use crate::{Component, Error};

/// A trial-feedback component. Export it with
/// [`export_trial_feedback!`](crate::export_trial_feedback).
pub trait TrialFeedback: Component {
    /// Submit feedback.
    fn submit(draft: FeedbackDraft) -> Result<Feedback, Error>;
    /// Feedback matching the filter, newest first.
    fn list_feedback(filter: FeedbackFilter) -> Result<Vec<Feedback>, Error>;
    /// The summary of one product.
    fn summary(product: String) -> Result<ProductSummary, Error>;
    /// Customers at risk, one entry per rule that fired.
    fn at_risk() -> Result<Vec<AtRiskCustomer>, Error>;
}

#[doc(hidden)]
#[derive(Debug)]
pub struct Adapter<T>(PhantomData<T>);

crate::component::component_adapter!(Adapter, TrialFeedback);

impl<T: TrialFeedback> Guest for Adapter<T> {
    fn submit(draft: FeedbackDraft) -> Result<Feedback, Error> {
        T::submit(draft)
    }
    fn list_feedback(filter: FeedbackFilter) -> Result<Vec<Feedback>, Error> {
        T::list_feedback(filter)
    }
    fn summary(product: String) -> Result<ProductSummary, Error> {
        T::summary(product)
    }
    fn at_risk() -> Result<Vec<AtRiskCustomer>, Error> {
        T::at_risk()
    }
}

/// Export a [`TrialFeedback`] implementation as the component.
#[macro_export]
macro_rules! export_trial_feedback {
    ($component:ty) => {
        $crate::__export_kind!(
            $component,
            $crate::feedback::TrialFeedback,
            $crate::feedback::Adapter<$component>,
            __export_feedback_impl,
            feedback
        );
    };
}
