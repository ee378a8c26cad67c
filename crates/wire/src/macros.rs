//! `enum_with_unknown!`: open enums for registry numbers (after smoltcp's `src/macros.rs`).

/// Declares an enum over a registry number with one variant per named value and an
/// `Unknown(n)` catch-all, plus `From` in both directions.
///
/// Equality, ordering and hashing go through the number, so `Unknown(6)` equals the variant named
/// for 6: a value built by hand can never disagree with one parsed from the wire.
macro_rules! enum_with_unknown {
    (
        $( #[$enum_attr:meta] )*
        pub enum $name:ident($ty:ty) {
            $(
                $( #[$variant_attr:meta] )*
                $variant:ident = $value:literal
            ),+ $(,)?
        }
    ) => {
        #[derive(Debug, Clone, Copy)]
        $( #[$enum_attr] )*
        pub enum $name {
            $(
                $( #[$variant_attr] )*
                $variant,
            )+
            /// A number this crate does not name; kept as is.
            Unknown($ty),
        }

        impl ::core::convert::From<$ty> for $name {
            #[inline]
            fn from(value: $ty) -> Self {
                match value {
                    $( $value => $name::$variant, )+
                    other => $name::Unknown(other),
                }
            }
        }

        impl ::core::convert::From<$name> for $ty {
            #[inline]
            fn from(value: $name) -> Self {
                match value {
                    $( $name::$variant => $value, )+
                    $name::Unknown(other) => other,
                }
            }
        }

        impl ::core::cmp::PartialEq for $name {
            #[inline]
            fn eq(&self, other: &Self) -> bool {
                <$ty>::from(*self) == <$ty>::from(*other)
            }
        }

        impl ::core::cmp::Eq for $name {}

        impl ::core::hash::Hash for $name {
            fn hash<H: ::core::hash::Hasher>(&self, state: &mut H) {
                <$ty>::from(*self).hash(state);
            }
        }

        impl ::core::cmp::PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<::core::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl ::core::cmp::Ord for $name {
            fn cmp(&self, other: &Self) -> ::core::cmp::Ordering {
                <$ty>::from(*self).cmp(&<$ty>::from(*other))
            }
        }
    };
}

/// Declares a read/write view over a buffer (after smoltcp's `Packet<T>`s): the struct and its
/// `new_unchecked`, `new_checked` and `into_inner`. The module writes `check_len` (what makes
/// every accessor in bounds) and the accessors.
macro_rules! buffer_view {
    (
        $( #[$attr:meta] )*
        pub struct $name:ident;
    ) => {
        $( #[$attr] )*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<T: AsRef<[u8]>> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            /// Wraps a buffer without checks; accessors may panic on a buffer that
            /// [`check_len`](Self::check_len) refuses.
            pub const fn new_unchecked(buffer: T) -> $name<T> {
                $name { buffer }
            }

            /// Wraps a buffer after [`check_len`](Self::check_len).
            ///
            /// # Errors
            /// As [`check_len`](Self::check_len).
            pub fn new_checked(buffer: T) -> Result<$name<T>, $crate::WireError> {
                let view = Self::new_unchecked(buffer);
                view.check_len()?;
                Ok(view)
            }

            /// The underlying buffer.
            pub fn into_inner(self) -> T {
                self.buffer
            }
        }
    };
}
