use serde::{Deserialize, Serialize};

/// What a person may do. Ordered: a higher role can do all a lower one can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Operator,
    Admin,
    SuperAdmin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Operator, Role::Admin, Role::SuperAdmin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::SuperAdmin => "super_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "operator" | "agent" | "salesperson" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            "super_admin" | "superadmin" => Some(Role::SuperAdmin),
            _ => None,
        }
    }

    pub fn is_admin(self) -> bool {
        self >= Role::Admin
    }

    /// Whether a user of this role may create or change a user of role `other`.
    /// Admins manage admins and operators of their own client; only super admins make super admins.
    pub fn may_manage(self, other: Role) -> bool {
        match self {
            Role::SuperAdmin => true,
            Role::Admin => other <= Role::Admin,
            Role::Operator => false,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_order() {
        assert_eq!(Role::parse("super_admin"), Some(Role::SuperAdmin));
        assert_eq!(Role::parse(" Admin "), Some(Role::Admin));
        assert_eq!(Role::parse("root"), None);
        assert!(Role::SuperAdmin.may_manage(Role::SuperAdmin));
        assert!(Role::Admin.may_manage(Role::Operator));
        assert!(!Role::Admin.may_manage(Role::SuperAdmin));
        assert!(!Role::Operator.may_manage(Role::Operator));
    }

    #[test]
    fn every_role_reads_back_from_its_name() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert!(
            Role::ALL.windows(2).all(|w| w[0] < w[1]),
            "ALL is in rank order"
        );
    }
}
