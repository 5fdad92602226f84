//! The borrower views of a loan (`/me/loans/*`, loans contract §2.8–§2.15).
