//! Loose matching of CSV header names onto lead fields.

/// The lead field a CSV column feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadColumn {
    Phone,
    Name,
    FirstName,
    LastName,
    Email,
    Priority,
    Tags,
    Timezone,
    List,
    Notes,
}

/// Map a header cell onto a field: case, spaces, dashes and underscores are ignored.
pub fn match_header(header: &str) -> Option<LeadColumn> {
    let key: String = header
        .trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    Some(match key.as_str() {
        "phone" | "phonenumber" | "phoneno" | "mobile" | "mobilenumber" | "mobileno" | "cell"
        | "cellphone" | "number" | "tel" | "telephone" | "contact" | "contactnumber" | "msisdn" => {
            LeadColumn::Phone
        }
        "name" | "fullname" | "leadname" | "customername" | "contactname" => LeadColumn::Name,
        "firstname" | "givenname" | "first" => LeadColumn::FirstName,
        "lastname" | "surname" | "familyname" | "last" => LeadColumn::LastName,
        "email" | "emailaddress" | "mail" => LeadColumn::Email,
        "priority" => LeadColumn::Priority,
        "tags" | "tag" | "labels" => LeadColumn::Tags,
        "timezone" | "tz" | "zone" => LeadColumn::Timezone,
        "list" | "listname" | "listid" => LeadColumn::List,
        "notes" | "note" | "comment" | "comments" => LeadColumn::Notes,
        _ => return None,
    })
}

/// Guess the delimiter from the header line: `;` when it splits the line more than `,` does.
pub fn sniff_delimiter(first_line: &[u8]) -> u8 {
    let commas = first_line.iter().filter(|&&b| b == b',').count();
    let semis = first_line.iter().filter(|&&b| b == b';').count();
    let tabs = first_line.iter().filter(|&&b| b == b'\t').count();
    if tabs > commas && tabs > semis {
        b'\t'
    } else if semis > commas {
        b';'
    } else {
        b','
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_loosely() {
        assert_eq!(
            match_header("\u{feff}Phone Number"),
            Some(LeadColumn::Phone)
        );
        assert_eq!(match_header("mobile"), Some(LeadColumn::Phone));
        assert_eq!(match_header("full_name"), Some(LeadColumn::Name));
        assert_eq!(match_header("E-mail"), Some(LeadColumn::Email));
        assert_eq!(match_header("whatever"), None);
        assert_eq!(sniff_delimiter(b"phone;name;email"), b';');
        assert_eq!(sniff_delimiter(b"phone,name"), b',');
        assert_eq!(sniff_delimiter(b"phone"), b',');
    }
}
