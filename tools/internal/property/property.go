// Package property reads the values of a Pulumi property map the way ferry's providers need them:
// through secrets, with a missing or mistyped value read as the zero value (Check refuses those
// before they get here).
package property

import "github.com/pulumi/pulumi/sdk/v3/go/common/resource"

// Reveal looks through any number of secret wrappers.
func Reveal(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

// Text reads a string property; missing or unknown values are "".
func Text(props resource.PropertyMap, key resource.PropertyKey) string {
	if v, ok := props[key]; ok {
		if v = Reveal(v); v.IsString() {
			return v.StringValue()
		}
	}
	return ""
}

// Flag reads a boolean property, also given as the string "true".
func Flag(props resource.PropertyMap, key resource.PropertyKey) bool {
	if v, ok := props[key]; ok {
		if v = Reveal(v); v.IsBool() {
			return v.BoolValue()
		}
		if v.IsString() {
			return v.StringValue() == "true"
		}
	}
	return false
}

// Object reads a map property.
func Object(props resource.PropertyMap, key resource.PropertyKey) resource.PropertyMap {
	if v, ok := props[key]; ok {
		if v = Reveal(v); v.IsObject() {
			return v.ObjectValue()
		}
	}
	return nil
}

// List reads a list property.
func List(props resource.PropertyMap, key resource.PropertyKey) []resource.PropertyValue {
	if v, ok := props[key]; ok {
		if v = Reveal(v); v.IsArray() {
			return v.ArrayValue()
		}
	}
	return nil
}

// Strings reads a list of strings, skipping anything else.
func Strings(props resource.PropertyMap, key resource.PropertyKey) []string {
	var out []string
	for _, item := range List(props, key) {
		if item = Reveal(item); item.IsString() {
			out = append(out, item.StringValue())
		}
	}
	return out
}
