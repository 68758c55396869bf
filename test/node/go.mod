module pullsecret-operator/test/node

go 1.26
