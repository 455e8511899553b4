//! The SDK's test host behaves as the real host does where a component can
//! tell: here, how customer profiles are masked.

use mercato_sdk::testing::TestHost;
use mercato_sdk::{Profile, customers};

#[test]
fn profiles_are_masked_exactly_as_the_host_masks_them() {
    let host = TestHost::new();
    host.add_customer(Profile {
        id: "ann".into(),
        name: "Ann".into(),
        company: None,
        email: Some("ann@example.com".into()),
        phone: Some("13812345678".into()),
        address: Some("1 Main St".into()),
        contact_masked: false,
        tags: vec![],
    });
    let masked = customers::get("ann").expect("profile");
    // The host's rule (`mercato_types::mask`): first 3 and last 4 digits.
    assert_eq!(masked.phone.as_deref(), Some("138****5678"));
    assert_eq!(masked.email.as_deref(), Some("a***@example.com"));
    assert_eq!(masked.address.as_deref(), Some("***"));
    assert!(masked.contact_masked);
    host.grant_contact();
    let whole = customers::get("ann").expect("profile");
    assert_eq!(whole.phone.as_deref(), Some("13812345678"));
    assert!(!whole.contact_masked);
}
