module github.com/gormsession/gormsession/tests/galera

go 1.26.0

replace github.com/gormsession/gormsession => ../..

require (
	github.com/go-sql-driver/mysql v1.8.1
	github.com/gormsession/gormsession v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.12.1
	gorm.io/driver/mysql v1.6.0
	gorm.io/gorm v1.31.2
)

require (
	filippo.io/edwards25519 v1.1.0 // indirect
	github.com/jinzhu/inflection v1.0.0 // indirect
	github.com/jinzhu/now v1.1.5 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/text v0.44.0 // indirect
)
