// Package secret reads a step's secrets the one way the data plane takes them: from the file
// named by NAME_FILE (a mounted Secret, or the 0600 file the shell glue wrote), or else from NAME,
// which is then removed from the environment so that no child process inherits it.
package secret

import (
	"fmt"
	"os"
)

// FromEnvironment returns the secret NAME; empty when neither NAME_FILE nor NAME is set.
func FromEnvironment(name string) (string, error) {
	value := os.Getenv(name)
	if file := os.Getenv(name + "_FILE"); file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("secret file for %s is not readable: %v", name, err)
		}
		value = string(data)
	}
	_ = os.Unsetenv(name)
	return value, nil
}
