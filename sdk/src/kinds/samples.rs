//! Sample requests: stock, human approval above a threshold, shipping.

use std::marker::PhantomData;

use crate::bindings::samples::exports::mercato::sales::samples::Guest;
pub use crate::bindings::samples::exports::mercato::sales::samples::{
    RequestDraft, RequestFilter, RequestState, SampleRequest, Shipment, ShippingAddress, StockLevel,
};
use crate::{Component, Error};

/// A sample-requests component. Export it with
/// [`export_sample_requests!`](crate::export_sample_requests).
pub trait SampleRequests: Component {
    /// Set the stock and unit price of a SKU.
    fn set_stock(level: StockLevel) -> Result<StockLevel, Error>;
    /// Current stock of a SKU.
    fn stock(sku: String) -> Result<StockLevel, Error>;
    /// File a request.
    fn request(draft: RequestDraft) -> Result<SampleRequest, Error>;
    /// Mark an approved request shipped.
    fn ship(id: String, carrier: String, tracking_number: String) -> Result<SampleRequest, Error>;
    /// Mark a shipped request delivered.
    fn mark_delivered(id: String) -> Result<SampleRequest, Error>;
    /// Cancel a request that has not shipped.
    fn cancel(id: String, reason: String) -> Result<SampleRequest, Error>;
    /// One request.
    fn get(id: String) -> Result<SampleRequest, Error>;
    /// Requests matching the filter, newest first.
    fn list_requests(filter: RequestFilter) -> Result<Vec<SampleRequest>, Error>;
}

#[doc(hidden)]
#[derive(Debug)]
pub struct Adapter<T>(PhantomData<T>);

crate::component::component_adapter!(Adapter, SampleRequests);

impl<T: SampleRequests> Guest for Adapter<T> {
    fn set_stock(level: StockLevel) -> Result<StockLevel, Error> {
        T::set_stock(level)
    }
    fn stock(sku: String) -> Result<StockLevel, Error> {
        T::stock(sku)
    }
    fn request(draft: RequestDraft) -> Result<SampleRequest, Error> {
        T::request(draft)
    }
    fn ship(id: String, carrier: String, tracking_number: String) -> Result<SampleRequest, Error> {
        T::ship(id, carrier, tracking_number)
    }
    fn mark_delivered(id: String) -> Result<SampleRequest, Error> {
        T::mark_delivered(id)
    }
    fn cancel(id: String, reason: String) -> Result<SampleRequest, Error> {
        T::cancel(id, reason)
    }
    fn get(id: String) -> Result<SampleRequest, Error> {
        T::get(id)
    }
    fn list_requests(filter: RequestFilter) -> Result<Vec<SampleRequest>, Error> {
        T::list_requests(filter)
    }
}

/// Export a [`SampleRequests`] implementation as the component.
#[macro_export]
macro_rules! export_sample_requests {
    ($component:ty) => {
        $crate::__export_kind!(
            $component,
            $crate::samples::SampleRequests,
            $crate::samples::Adapter<$component>,
            __export_samples_impl,
            samples
        );
    };
}
